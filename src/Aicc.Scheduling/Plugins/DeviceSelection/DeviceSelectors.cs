using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.DeviceSelection;

/// <summary>
/// Best fit inside the node. A fractional pod takes the fullest device that still has room, so whole
/// devices stay free. Whole-device pods take devices from the NVLink domain with the fewest free devices
/// that still holds all of them (keeping large domains intact for large pods); when no single domain
/// does, they fill from the domains with the most free devices to span as few as possible.
/// </summary>
public sealed class BestFitDevices : IDeviceSelector
{
    public string Name => "BestFit";

    public void Choose(ClusterState cluster, int node, in PodRequest pod, ScoringContext context, Span<int> devices)
    {
        var first = cluster.FirstDevice(node);
        var end = first + cluster.DevicesOn(node);
        if (pod.Count == 0)
        {
            var best = -1;
            for (var d = first; d < end; d++)
            {
                if (NodeFilter.IsUsable(cluster, d, pod, whole: false) && (best < 0 || cluster.DeviceUsed(d) > cluster.DeviceUsed(best)))
                {
                    best = d;
                }
            }

            devices[0] = best;
            return;
        }

        SelectWhole(cluster, first, end, pod, devices);
    }

    internal static void SelectWhole(ClusterState cluster, int first, int end, in PodRequest pod, Span<int> devices)
    {
        // Domains are small integers; count free usable devices per domain (at most 64 domains per node).
        Span<int> freeByDomain = stackalloc int[64];
        for (var d = first; d < end; d++)
        {
            if (NodeFilter.IsUsable(cluster, d, pod, whole: true))
            {
                freeByDomain[cluster.DeviceDomain[d] & 63]++;
            }
        }

        var chosen = -1;
        for (var dom = 0; dom < 64; dom++)
        {
            if (freeByDomain[dom] >= pod.Count && (chosen < 0 || freeByDomain[dom] < freeByDomain[chosen]))
            {
                chosen = dom;
            }
        }

        var taken = 0;
        if (chosen >= 0)
        {
            for (var d = first; d < end && taken < pod.Count; d++)
            {
                if ((cluster.DeviceDomain[d] & 63) == chosen && NodeFilter.IsUsable(cluster, d, pod, whole: true))
                {
                    devices[taken++] = d;
                }
            }

            return;
        }

        while (taken < pod.Count)
        {
            var largest = 0;
            for (var dom = 1; dom < 64; dom++)
            {
                if (freeByDomain[dom] > freeByDomain[largest])
                {
                    largest = dom;
                }
            }

            for (var d = first; d < end && taken < pod.Count && freeByDomain[largest] > 0; d++)
            {
                if ((cluster.DeviceDomain[d] & 63) == largest && NodeFilter.IsUsable(cluster, d, pod, whole: true) && !devices[..taken].Contains(d))
                {
                    devices[taken++] = d;
                    freeByDomain[largest]--;
                }
            }

            freeByDomain[largest] = 0;
        }
    }
}

/// <summary>Lowest-index usable devices: a plain first fit.</summary>
public sealed class FirstDevices : IDeviceSelector
{
    public string Name => "First";

    /// <summary>The lowest-numbered free devices the whole-device pod may use (the FGD artifact's
    /// <c>AllocateExclusiveGpuId</c>).</summary>
    public static void TakeFirstFree(ClusterState cluster, int node, in PodRequest pod, Span<int> devices)
    {
        var taken = 0;
        var end = cluster.FirstDevice(node) + cluster.DevicesOn(node);
        for (var d = cluster.FirstDevice(node); d < end && taken < devices.Length; d++)
        {
            if (NodeFilter.IsUsable(cluster, d, pod, whole: true))
            {
                devices[taken++] = d;
            }
        }
    }

    public void Choose(ClusterState cluster, int node, in PodRequest pod, ScoringContext context, Span<int> devices)
    {
        var whole = pod.Count > 0;
        var taken = 0;
        var end = cluster.FirstDevice(node) + cluster.DevicesOn(node);
        for (var d = cluster.FirstDevice(node); d < end && taken < devices.Length; d++)
        {
            if (NodeFilter.IsUsable(cluster, d, pod, whole))
            {
                devices[taken++] = d;
            }
        }
    }
}

/// <summary>Usable devices in a seeded random order.</summary>
public sealed class RandomDevices : IDeviceSelector
{
    public string Name => "Random";

    public void Choose(ClusterState cluster, int node, in PodRequest pod, ScoringContext context, Span<int> devices)
    {
        var whole = pod.Count > 0;
        var first = cluster.FirstDevice(node);
        var n = cluster.DevicesOn(node);
        Span<double> keys = stackalloc double[n];
        for (var i = 0; i < n; i++)
        {
            keys[i] = NodeFilter.IsUsable(cluster, first + i, pod, whole) ? context.Random(1_000_003L + i) : double.PositiveInfinity;
        }

        for (var taken = 0; taken < devices.Length; taken++)
        {
            var pick = 0;
            for (var i = 1; i < n; i++)
            {
                if (keys[i] < keys[pick])
                {
                    pick = i;
                }
            }

            devices[taken] = first + pick;
            keys[pick] = double.PositiveInfinity;
        }
    }
}
