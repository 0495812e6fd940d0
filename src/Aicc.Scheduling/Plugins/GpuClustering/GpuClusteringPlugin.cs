using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.GpuClustering;

/// <summary>
/// Keep pods of one kind together: whole-device pods go where devices are already held whole, fractional
/// pods where devices are already shared, so that sharing does not spread over the whole cluster. Idle
/// nodes come next and nodes used by the other kind last. Within a tier, the node with more devices of
/// that kind wins.
/// </summary>
public sealed class GpuClusteringPlugin : IScorePlugin
{
    public string Name => "GpuClustering";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var devices = cluster.DevicesOn(node);
        if (devices == 0 || !pod.WantsDevices)
        {
            return 0;
        }

        var whole = 0;
        var shared = 0;
        var end = cluster.FirstDevice(node) + devices;
        for (var d = cluster.FirstDevice(node); d < end; d++)
        {
            if (cluster.WholeOwner(d) >= 0)
            {
                whole++;
            }
            else if (cluster.Sharers(d) > 0)
            {
                shared++;
            }
        }

        var same = pod.Count > 0 ? whole : shared;
        var other = pod.Count > 0 ? shared : whole;
        if (same > 0)
        {
            return 60 + 40.0 * same / devices;
        }

        return other == 0 ? 50 : 40.0 * (devices - other) / devices;
    }
}
