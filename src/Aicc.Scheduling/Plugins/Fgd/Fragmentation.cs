using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.Fgd;

/// <summary>
/// GPU fragmentation as defined by Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing
/// Workloads with Fragmentation Gradient Descent", USENIX ATC'23, §3, and as their artifact
/// (hkust-adsl/kubernetes-scheduler-simulator, <c>utils.NodeGpuShareFragAmount</c>) measures it. For one
/// node and one task class:
/// <list type="bullet">
/// <item>a task that requests no accelerator cannot use any device, so every free share is a fragment;</item>
/// <item>a task that cannot run on the node (too little CPU, no allowed model, too few devices with
/// room) sees every free share as a fragment;</item>
/// <item>a task that can run sees as fragments the free shares on devices it cannot use (too little
/// room for its per-device request, or a model it does not allow).</item>
/// </list>
/// A node's expected fragmentation weighs each class by its popularity in the target workload.
/// All figures are milli-devices. O(classes × devices) per node; 30 classes × 8 devices ≈ 0.3 µs.
/// </summary>
public static class Fragmentation
{
    /// <summary>Fragment of a node for one task, from the node's free share per device.</summary>
    public static int ForTask(ReadOnlySpan<int> free, ReadOnlySpan<int> models, long freeCpu, in TaskClass task)
    {
        var total = 0;
        foreach (var f in free)
        {
            total += f;
        }

        if ((task.Count == 0 && task.Milli == 0) || freeCpu < task.CpuMilli)
        {
            return total;
        }

        var need = task.Count > 0 ? 1000 : task.Milli;
        var usable = 0;
        var unusableFree = 0;
        for (var d = 0; d < free.Length; d++)
        {
            if (free[d] >= need && (task.ModelMask & (1UL << models[d])) != 0)
            {
                usable++;
            }
            else
            {
                unusableFree += free[d];
            }
        }

        var fits = usable >= Math.Max(1, task.Count);
        return fits ? unusableFree : total;
    }

    /// <summary>Expected fragmentation of a node under the workload, Σ popularity × fragment.</summary>
    public static double Expected(ReadOnlySpan<int> free, ReadOnlySpan<int> models, long freeCpu, ReadOnlySpan<TaskClass> classes)
    {
        var sum = 0.0;
        foreach (ref readonly var task in classes)
        {
            sum += task.Popularity * ForTask(free, models, freeCpu, task);
        }

        return sum;
    }

    /// <summary>Expected fragmentation of a node as it stands.</summary>
    public static double OfNode(ClusterState c, int node, ReadOnlySpan<TaskClass> classes)
    {
        var n = c.DevicesOn(node);
        Span<int> free = stackalloc int[n];
        Span<int> models = stackalloc int[n];
        Load(c, node, free, models);
        return Expected(free, models, c.FreeCpu(node), classes);
    }

    internal static void Load(ClusterState c, int node, Span<int> free, Span<int> models)
    {
        var first = c.FirstDevice(node);
        for (var i = 0; i < free.Length; i++)
        {
            free[i] = 1000 - c.DeviceUsed(first + i);
            models[i] = c.ModelOf(first + i);
        }
    }

    /// <summary>
    /// The smallest increase of the node's expected fragmentation that placing the pod can cause, and the
    /// device (node-relative index) that achieves it for a fractional pod (-1 for whole-device pods, which
    /// take the lowest-numbered free devices they may use).
    /// </summary>
    public static double BestDelta(ClusterState c, int node, in PodRequest pod, ReadOnlySpan<TaskClass> classes, out int bestDevice)
    {
        var n = c.DevicesOn(node);
        Span<int> free = stackalloc int[n];
        Span<int> models = stackalloc int[n];
        Load(c, node, free, models);
        var cpu = c.FreeCpu(node);
        var before = Expected(free, models, cpu, classes);
        var cpuAfter = cpu - pod.CpuMilli;
        bestDevice = -1;
        if (pod.Milli == 0)
        {
            TakeWhole(free, models, pod);
            return Expected(free, models, cpuAfter, classes) - before;
        }

        var best = double.PositiveInfinity;
        var first = c.FirstDevice(node);
        for (var d = 0; d < n; d++)
        {
            if (!NodeFilter.IsUsable(c, first + d, pod, whole: false))
            {
                continue;
            }

            free[d] -= pod.Milli;
            var delta = Expected(free, models, cpuAfter, classes) - before;
            free[d] += pod.Milli;
            if (delta < best)
            {
                best = delta;
                bestDevice = d;
            }
        }

        return best;
    }

    /// <summary>Marks the lowest-numbered free devices the pod may use as taken (the artifact's
    /// <c>AllocateExclusiveGpuId</c>); a CPU-only pod takes none.</summary>
    internal static void TakeWhole(Span<int> free, ReadOnlySpan<int> models, in PodRequest pod)
    {
        var taken = 0;
        for (var d = 0; d < free.Length && taken < pod.Count; d++)
        {
            if (free[d] == 1000 && (pod.ModelMask & (1UL << models[d])) != 0)
            {
                free[d] = 0;
                taken++;
            }
        }
    }
}
