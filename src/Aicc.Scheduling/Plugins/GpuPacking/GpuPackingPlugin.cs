using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.GpuPacking;

/// <summary>
/// Prefer, in this order: a device already shared that the fractional pod can join; a node whose devices
/// are already partly in use; an idle node. Within a tier, the fuller node wins. Keeps idle nodes whole
/// for multi-device pods.
/// </summary>
public sealed class GpuPackingPlugin : IScorePlugin
{
    public string Name => "GpuPacking";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var devices = cluster.DevicesOn(node);
        if (devices == 0 || !pod.WantsDevices)
        {
            return 0;
        }

        var used = devices * 1000 - cluster.FreeMilliTotal[node];
        var fullness = (double)used / (devices * 1000);
        if (pod.Milli > 0 && JoinsSharedDevice(cluster, node, pod))
        {
            return 70 + 30 * fullness;
        }

        return used > 0 ? 35 + 30 * fullness : 0;
    }

    private static bool JoinsSharedDevice(ClusterState cluster, int node, in PodRequest pod)
    {
        var end = cluster.FirstDevice(node) + cluster.DevicesOn(node);
        for (var d = cluster.FirstDevice(node); d < end; d++)
        {
            if (cluster.DeviceUsed(d) > 0 && NodeFilter.IsUsable(cluster, d, pod, whole: false))
            {
                return true;
            }
        }

        return false;
    }
}
