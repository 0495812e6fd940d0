using Aicc.Scheduling.Model;

namespace Aicc.Scheduling.Framework;

public enum WorkloadPhase
{
    Pending,
    Admitted,
    Finished,
}

/// <summary>A pod of an admitted workload: where it runs, in the names a server or executor uses.
/// <see cref="Devices"/> are indices within the node (what <c>CUDA_VISIBLE_DEVICES</c> lists).</summary>
public sealed record PodPlacement(string PodSet, int Index, string Node, IReadOnlyList<int> Devices, int MilliPerDevice);

/// <summary>What the cycle mutates for one workload.</summary>
public sealed class WorkloadState
{
    internal WorkloadState(WorkloadSpec spec, int queueIndex, long sequence, ulong[] modelMasks)
    {
        Spec = spec;
        QueueIndex = queueIndex;
        Sequence = sequence;
        ModelMasks = modelMasks;
        FirstShape = spec.PodSets.Count == 1 ? new PodRequest(spec.PodSets[0], modelMasks[0]).Shape : null;
        foreach (var p in spec.PodSets)
        {
            RequestedDevices += p.Count * p.Accelerator.TotalMilli / 1000.0;
        }
    }

    public WorkloadSpec Spec { get; }

    public WorkloadPhase Phase { get; internal set; }

    /// <summary>Why it is not running, in words a user can act on; null once admitted.</summary>
    public string? Reason { get; internal set; }

    public DateTimeOffset? AdmittedAt { get; internal set; }

    public int Evictions { get; internal set; }

    /// <summary>Device-seconds this workload ran before its current admission (attained service, for
    /// least-attained-service queue sorts). Grows when it is evicted; a running workload's live value is
    /// <see cref="AttainedDeviceSeconds(DateTimeOffset)"/>.</summary>
    public double AttainedBeforeDeviceSeconds { get; internal set; }

    /// <summary>Wall seconds this workload ran before its current admission (for remaining-time queue
    /// sorts); a running workload's live value is <see cref="RanSeconds(DateTimeOffset)"/>.</summary>
    public double RanBeforeSeconds { get; internal set; }

    /// <summary>Devices it holds while admitted (fractions count as their share), set at admission.</summary>
    public double HeldDevices { get; internal set; }

    /// <summary>Devices the full workload asks for (every pod of every pod set; fractions count as their share).</summary>
    public double RequestedDevices { get; }

    /// <summary>Attained service at <paramref name="now"/>: earlier runs plus the current one.</summary>
    public double AttainedDeviceSeconds(DateTimeOffset now) =>
        AttainedBeforeDeviceSeconds + (Phase == WorkloadPhase.Admitted && AdmittedAt is { } at ? HeldDevices * Math.Max(0, (now - at).TotalSeconds) : 0);

    /// <summary>Wall seconds run at <paramref name="now"/>: earlier runs plus the current one.</summary>
    public double RanSeconds(DateTimeOffset now) =>
        RanBeforeSeconds + (Phase == WorkloadPhase.Admitted && AdmittedAt is { } at ? Math.Max(0, (now - at).TotalSeconds) : 0);

    /// <summary>The queue sort's key, fixed while the workload waits (smaller goes first after priority).
    /// Computed when it enters its queue, so a sorted set can hold it.</summary>
    public double SortKey { get; internal set; }

    internal int QueueIndex { get; }

    internal long Sequence { get; }

    /// <summary>Per pod set: the models it may use at all (its own list and minimum SCU).</summary>
    internal ulong[] ModelMasks { get; }

    /// <summary>The pod shape of a single-pod-set workload on all its allowed models (null otherwise);
    /// lets a cycle skip it cheaply when a shape it dominates already failed.</summary>
    internal PodShape? FirstShape { get; }

    internal List<(int PodSet, int Index, PodAllocation Allocation)> Allocations { get; } = [];

    internal long[] Charged { get; } = new long[Quotas.ResourceNames.Count];

    /// <summary>Handle stored as the owner of whole devices.</summary>
    internal int Handle { get; set; } = -1;

    public IReadOnlyList<PodPlacement> Placements(ClusterState cluster) =>
        [.. Allocations.Select(a => new PodPlacement(
            Spec.PodSets[a.PodSet].Name,
            a.Index,
            cluster.NodeName(a.Allocation.Node),
            [.. a.Allocation.Devices.Select(d => d - cluster.FirstDevice(a.Allocation.Node))],
            a.Allocation.MilliPerDevice))];
}

/// <summary>An admission decided by one cycle, with the workloads it evicted to make room.</summary>
public sealed record Admission(string WorkloadId, IReadOnlyList<PodPlacement> Pods, IReadOnlyList<string> Victims);

/// <summary>A workload the cycle evicted (it returns to its queue).</summary>
public sealed record Eviction(string WorkloadId, string Reason);

/// <summary>Everything one cycle decided, with the time each phase took.</summary>
public sealed class CycleResult
{
    public List<Admission> Admitted { get; } = [];

    public List<Eviction> Evicted { get; } = [];

    /// <summary>Workloads considered and left waiting, with the reason.</summary>
    public List<(string WorkloadId, string Reason)> Waiting { get; } = [];

    public TimeSpan SortTime { get; internal set; }

    public TimeSpan AdmitTime { get; internal set; }

    public TimeSpan PlaceTime { get; internal set; }

    public TimeSpan PreemptTime { get; internal set; }

    public int Considered { get; internal set; }

    public int PodsPlaced { get; internal set; }
}
