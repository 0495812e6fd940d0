using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.LeastAllocated;

/// <summary>Free fractions of a node's CPU, memory and device share after a pod would land there.</summary>
internal static class ResourceFractions
{
    /// <summary>Mean free fraction (0..1) over CPU, memory and — when the node has devices — device share.</summary>
    public static double MeanFreeAfter(ClusterState c, int node, in PodRequest pod)
    {
        var cpu = Ratio(c.FreeCpu(node) - pod.CpuMilli, c.CpuCapacity[node]);
        var memory = Ratio(c.FreeMemory(node) - pod.MemoryMiB, c.MemoryCapacity[node]);
        var devices = c.DevicesOn(node);
        if (devices == 0)
        {
            return (cpu + memory) / 2;
        }

        var gpu = Ratio(c.FreeMilliTotal[node] - pod.TotalMilli, devices * 1000L);
        return (cpu + memory + gpu) / 3;
    }

    public static double Ratio(long free, long capacity) => capacity <= 0 ? 0 : Math.Clamp((double)free / capacity, 0, 1);
}

/// <summary>Spread: prefer the node with the most resources left after placement (Kubernetes
/// NodeResourcesLeastAllocated).</summary>
public sealed class LeastAllocatedPlugin : IScorePlugin
{
    public string Name => "LeastAllocated";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context) =>
        100 * ResourceFractions.MeanFreeAfter(cluster, node, pod);
}
