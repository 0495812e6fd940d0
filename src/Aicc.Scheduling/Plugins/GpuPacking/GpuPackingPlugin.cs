using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.GpuPacking;

/// <summary>
/// Prefer, in this order (the FGD artifact's <c>gpu_packing_score.go</c>): a partly used device the
/// fractional pod can join, scored (50, 100] by how little it leaves free; a partly used node whose free
/// devices the pod takes, [33, 50); an idle node, at most 33. Pods without accelerators score 0 everywhere.
/// Keeps idle nodes and free devices whole for multi-device pods.
/// </summary>
public sealed class GpuPackingPlugin : IScorePlugin
{
    public string Name => "GpuPacking";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var n = cluster.DevicesOn(node);
        if (!pod.WantsDevices || n == 0)
        {
            return 0;
        }

        var freeWhole = cluster.FreeWhole[node];
        if (freeWhole == n)
        {
            return Math.Max(33 - freeWhole, freeWhole);
        }

        if (pod.Count > 0)
        {
            return Math.Max(50 - pod.Count, 33);
        }

        // A fractional pod goes to the usable device with the least room (lowest index among equals).
        var first = cluster.FirstDevice(node);
        var best = -1;
        for (var d = first; d < first + n; d++)
        {
            if (NodeFilter.IsUsable(cluster, d, pod, whole: false) && (best < 0 || cluster.DeviceUsed(d) > cluster.DeviceUsed(best)))
            {
                best = d;
            }
        }

        if (best < 0)
        {
            return 0;
        }

        var left = 1000 - cluster.DeviceUsed(best);
        return left == 1000 ? 49 : Math.Max(100 - (left * 100 / 1000 / 10), 50);
    }
}
