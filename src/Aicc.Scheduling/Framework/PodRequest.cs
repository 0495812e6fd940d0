using Aicc.Scheduling.Model;

namespace Aicc.Scheduling.Framework;

/// <summary>
/// One pod's demand as the placer sees it: a <see cref="PodSetSpec"/> resolved against the catalog and
/// the models its queue's quota allows now. <see cref="Shape"/> identifies requests that every filter and
/// cacheable score plugin treat alike, so scores computed for one pod serve the next of the same shape.
/// </summary>
public readonly record struct PodRequest
{
    public PodRequest(PodSetSpec podSet, ulong modelMask)
    {
        PodSet = podSet;
        CpuMilli = podSet.CpuMilli;
        MemoryMiB = podSet.MemoryMiB;
        Count = podSet.Accelerator.Count;
        Milli = podSet.Accelerator.Milli;
        DeviceMemoryMiB = podSet.Accelerator.MemoryMiB;
        ModelMask = modelMask;
        Shape = new PodShape(CpuMilli, MemoryMiB, Count, Milli, DeviceMemoryMiB, modelMask, ConstraintKey(podSet));
    }

    public PodSetSpec PodSet { get; }

    public long CpuMilli { get; }

    public long MemoryMiB { get; }

    /// <summary>Whole devices (0 for a fraction or a CPU-only pod).</summary>
    public int Count { get; }

    /// <summary>Share of one device, 1..999, or 0.</summary>
    public int Milli { get; }

    public long DeviceMemoryMiB { get; }

    /// <summary>Accelerator models this pod may use, one bit per catalog id.</summary>
    public ulong ModelMask { get; }

    public PodShape Shape { get; }

    public bool WantsDevices => Count > 0 || Milli > 0;

    /// <summary>Device share this pod takes, milli-devices.</summary>
    public int TotalMilli => Count > 0 ? Count * 1000 : Milli;

    private static string ConstraintKey(PodSetSpec podSet)
    {
        if (podSet.NodeSelector.Count == 0 && podSet.Tolerations.Count == 0)
        {
            return "";
        }

        var parts = podSet.NodeSelector.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")
            .Concat(podSet.Tolerations.Select(t => $"~{t.Key}={t.Value}").Order(StringComparer.Ordinal));
        return string.Join(',', parts);
    }
}

/// <summary>Everything about a pod request that filtering and cacheable scoring depend on.</summary>
public readonly record struct PodShape(long CpuMilli, long MemoryMiB, int Count, int Milli, long DeviceMemoryMiB, ulong ModelMask, string Constraints);
