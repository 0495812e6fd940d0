using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.TopologyPacking;

/// <summary>
/// Inside a node: a whole-device pod scores by how snugly it fits one NVLink domain — 100 when some
/// domain has exactly the free devices it needs, less for each device it would leave stranded there, and
/// 0 when it must span domains (slow PCIe hops between its devices). Fractional and CPU-only pods score
/// a neutral 50. Across nodes, gangs are kept in the fewest racks by the placer's rack plan
/// (<see cref="RackPlan"/>), which this plugin's presence in a policy switches on.
/// </summary>
public sealed class TopologyPackingPlugin : IScorePlugin
{
    public string Name => "TopologyPacking";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        if (pod.Count == 0)
        {
            return 50;
        }

        Span<int> freeByDomain = stackalloc int[64];
        var end = cluster.FirstDevice(node) + cluster.DevicesOn(node);
        for (var d = cluster.FirstDevice(node); d < end; d++)
        {
            if (NodeFilter.IsUsable(cluster, d, pod, whole: true))
            {
                freeByDomain[cluster.DeviceDomain[d] & 63]++;
            }
        }

        var snug = int.MaxValue;
        foreach (var free in freeByDomain)
        {
            if (free >= pod.Count && free - pod.Count < snug)
            {
                snug = free - pod.Count;
            }
        }

        if (snug == int.MaxValue)
        {
            return 0;
        }

        var devices = Math.Max(1, cluster.DevicesOn(node));
        return 100 - 50.0 * snug / devices;
    }
}
