using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.DotProduct;

/// <summary>
/// Alignment packing (Grandl et al., "Multi-Resource Packing for Cluster Schedulers", SIGCOMM'14, the
/// Tetris heuristic): score the dot product of the pod's demand and the node's free resources, each
/// dimension normalised by the node's capacity. A higher product means the node's spare capacity has the
/// pod's shape; the product is divided by the number of dimensions to stay within 0..100.
/// </summary>
public sealed class DotProductPlugin : IScorePlugin
{
    public string Name => "DotProduct";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var cpuCap = Math.Max(1, cluster.CpuCapacity[node]);
        var memCap = Math.Max(1, cluster.MemoryCapacity[node]);
        var dot = (double)pod.CpuMilli / cpuCap * cluster.FreeCpu(node) / cpuCap +
                  (double)pod.MemoryMiB / memCap * cluster.FreeMemory(node) / memCap;
        var dims = 2;
        var devices = cluster.DevicesOn(node);
        if (devices > 0)
        {
            var gpuCap = devices * 1000.0;
            dot += pod.TotalMilli / gpuCap * cluster.FreeMilliTotal[node] / gpuCap;
            dims++;
        }

        return Math.Clamp(100 * dot / dims, 0, 100);
    }
}
