using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.GpuClustering;

/// <summary>
/// Keep pods of one kind together (the FGD artifact's <c>gpu_clustering_score.go</c>). A pod's kind is
/// "shares a device" or "holds k whole devices". A node running only pods of the pod's kind scores in
/// (75, 100], a node running that kind among others in (50, 75], an idle node in (25, 50], a node of other
/// kinds only in [0, 25]; within a band the node with less free accelerator share wins. Pods without
/// accelerators score 0 everywhere. The kinds on a node are read from the devices: shared devices, and
/// the number of devices each whole-device owner holds.
/// </summary>
public sealed class GpuClusteringPlugin : IScorePlugin
{
    public string Name => "GpuClustering";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        if (!pod.WantsDevices)
        {
            return 0;
        }

        var first = cluster.FirstDevice(node);
        var n = cluster.DevicesOn(node);
        var shared = false;
        Span<bool> wholeKinds = stackalloc bool[n + 1];
        var kinds = 0;
        for (var d = first; d < first + n; d++)
        {
            shared |= cluster.Sharers(d) > 0;
            var owner = cluster.WholeOwner(d);
            if (owner < 0 || (d > first && HeldEarlier(cluster, first, d, owner)))
            {
                continue;
            }

            var held = 0;
            for (var e = d; e < first + n; e++)
            {
                held += cluster.WholeOwner(e) == owner ? 1 : 0;
            }

            if (!wholeKinds[held])
            {
                wholeKinds[held] = true;
                kinds++;
            }
        }

        kinds += shared ? 1 : 0;
        var same = pod.Count > 0 ? pod.Count <= n && wholeKinds[pod.Count] : shared;
        var fullness = 25 * Math.Max(0, 8000 - cluster.FreeMilliTotal[node]) / 8000;
        var band = same ? (kinds == 1 ? 75 : 50) : (kinds == 0 ? 25 : 0);
        return Math.Min(100, band + fullness);
    }

    private static bool HeldEarlier(ClusterState cluster, int first, int d, int owner)
    {
        for (var e = first; e < d; e++)
        {
            if (cluster.WholeOwner(e) == owner)
            {
                return true;
            }
        }

        return false;
    }
}
