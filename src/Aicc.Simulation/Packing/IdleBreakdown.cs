using Aicc.Scheduling.Framework;

namespace Aicc.Simulation.Packing;

/// <summary>
/// Where the idle accelerator share lies when the last pod has arrived (arrived demand ≈ tune × capacity),
/// in devices. Every free milli-device is counted once, by its node:
/// <list type="bullet">
/// <item><see cref="Usable"/>: some GPU pod shape of the pod list fits the node now (CPU, memory, model
/// and device room); such share is free only because no pod of a fitting shape arrived after it opened,
/// <see cref="UsableBySmallPodsOnly"/> is the part of it on nodes where every shape that fits asks for at
/// most <see cref="SmallShareMilli"/> (the remnants next to a 0.81-GPU pod, say), and
/// <see cref="SmallPodsPct"/> how common such pods are among the GPU pods of the list;</item>
/// <item><see cref="CpuOrMemoryStranded"/>: some shape would fit the devices, but none has the CPU and
/// memory it needs left on the node;</item>
/// <item><see cref="BelowEveryRequest"/>: no shape fits the devices even with CPU and memory to spare
/// (remnants smaller than every request of an allowed model, or too few free devices for any gang).</item>
/// </list>
/// Across those classes, <see cref="BesideLargeShares"/> is the idle share on devices that hold a pod of more
/// than half a device: only pods no larger than what that pod leaves can ever use it, and online every such
/// pod that finds a device with room is placed, so this share is left by the pod list more than by the
/// policy.
/// Pods never leave in this experiment, so a pod that failed could not fit anywhere when it arrived and
/// cannot fit later: the breakdown shows how much of the idle share any online placement could still
/// reach, and through which pods.
/// </summary>
public sealed record IdleBreakdown(
    double Idle,
    double WholeDevices,
    double Usable,
    double CpuOrMemoryStranded,
    double BelowEveryRequest,
    double UsableBySmallPodsOnly,
    double SmallPodsPct,
    double CpuUsedPct,
    double MemoryUsedPct)
{
    /// <summary>A quarter of a device: the bound of a "small" pod in <see cref="UsableBySmallPodsOnly"/>.</summary>
    public const int SmallShareMilli = 250;

    /// <summary>Idle share, in devices, on devices whose largest pod takes more than half a device (0 when
    /// the caller did not say which pods the devices hold).</summary>
    public double BesideLargeShares { get; init; }

    /// <summary>Classifies the idle share of <paramref name="cluster"/> against the GPU pod shapes in
    /// <paramref name="requests"/>. <paramref name="largestShare"/>, when given, is the largest share in
    /// milli any one pod holds on each device (by global device index). O(nodes × shapes × devices): about
    /// 1 ms on openb.</summary>
    public static IdleBreakdown Of(ClusterState cluster, IEnumerable<PodRequest> requests, IReadOnlyList<int>? largestShare = null)
    {
        var gpuPods = requests.Where(r => r.WantsDevices).ToArray();
        var shapes = gpuPods.DistinctBy(r => r.Shape).ToArray();
        var smallPct = gpuPods.Length == 0 ? 0 : 100.0 * gpuPods.Count(r => r.TotalMilli <= SmallShareMilli) / gpuPods.Length;
        double idle = 0, whole = 0, usable = 0, smallOnly = 0, stranded = 0, below = 0, besideLarge = 0;
        long cpuCap = 0, cpuUsed = 0, memCap = 0, memUsed = 0;
        for (var node = 0; node < cluster.NodeCount; node++)
        {
            var spec = cluster.NodeSpecAt(node);
            cpuCap += spec.CpuMilli;
            cpuUsed += spec.CpuMilli - cluster.FreeCpu(node);
            memCap += spec.MemoryMiB;
            memUsed += spec.MemoryMiB - cluster.FreeMemory(node);
            var first = cluster.FirstDevice(node);
            var n = cluster.DevicesOn(node);
            var free = 0;
            for (var d = first; d < first + n; d++)
            {
                var f = 1000 - cluster.DeviceUsed(d);
                free += f;
                whole += f == 1000 ? 1 : 0;
                besideLarge += largestShare is not null && largestShare[d] > 500 ? f / 1000.0 : 0;
            }

            if (free == 0)
            {
                continue;
            }

            idle += free / 1000.0;
            var devicesFit = false;
            var fits = false;
            var largest = 0;
            foreach (var s in shapes)
            {
                if (!DevicesFit(cluster, first, n, s))
                {
                    continue;
                }

                devicesFit = true;
                if (cluster.FreeCpu(node) >= s.CpuMilli && cluster.FreeMemory(node) >= s.MemoryMiB)
                {
                    fits = true;
                    largest = Math.Max(largest, s.TotalMilli);
                }
            }

            if (fits)
            {
                usable += free / 1000.0;
                smallOnly += largest <= SmallShareMilli ? free / 1000.0 : 0;
            }
            else if (devicesFit)
            {
                stranded += free / 1000.0;
            }
            else
            {
                below += free / 1000.0;
            }
        }

        return new IdleBreakdown(idle, whole, usable, stranded, below, smallOnly, smallPct,
            cpuCap == 0 ? 0 : 100.0 * cpuUsed / cpuCap, memCap == 0 ? 0 : 100.0 * memUsed / memCap)
        {
            BesideLargeShares = besideLarge,
        };
    }

    private static bool DevicesFit(ClusterState c, int first, int n, in PodRequest s)
    {
        var need = s.Count > 0 ? 1000 : s.Milli;
        var room = 0;
        for (var d = first; d < first + n; d++)
        {
            if (1000 - c.DeviceUsed(d) >= need && (s.ModelMask & (1UL << c.ModelOf(d))) != 0)
            {
                room++;
            }
        }

        return room >= Math.Max(1, s.Count);
    }
}
