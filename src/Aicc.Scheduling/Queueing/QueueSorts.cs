using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Queueing;

/// <summary>
/// Queue sort extension point: which pending workload the cycle considers next. After priority
/// (always first), workloads are ordered by <see cref="Key"/> ascending, then by submission time. A
/// pending workload's key is computed once, when it enters its queue (submission or eviction), so the
/// queue stays a sorted set and a cycle never re-sorts it; keys that depend on time must only change
/// while a workload runs.
/// </summary>
public interface IQueueSortPlugin
{
    string Name { get; }

    /// <summary>Across queues, the queue with the smallest dominant share goes first (DRF).</summary>
    bool UsesFairShare { get; }

    /// <summary>The workload's key at <paramref name="now"/>; smaller is served first.</summary>
    double Key(WorkloadState workload, DateTimeOffset now);
}

/// <summary>Priority, then first come first served (the FIFO baseline).</summary>
public sealed class PriorityFifoSort : IQueueSortPlugin
{
    public string Name => "PriorityFifo";

    public bool UsesFairShare => false;

    public double Key(WorkloadState workload, DateTimeOffset now) => 0;
}

/// <summary>Dominant Resource Fairness across queues (Ghodsi et al., NSDI'11) with decaying usage;
/// FIFO inside a queue.</summary>
public sealed class FairShareSort : IQueueSortPlugin
{
    public string Name => "FairShare";

    public bool UsesFairShare => true;

    public double Key(WorkloadState workload, DateTimeOffset now) => 0;
}

/// <summary>
/// Shortest job first by <see cref="Model.WorkloadSpec.EstimatedDurationSeconds"/>: with true durations
/// it is the oracle SJF, with durations predicted from a submitter's history the practical one. A
/// workload with no estimate goes after every one that has one. The key is the estimated remaining
/// time, so that with <see cref="Framework.PreemptionSpec.ForQueueSortLevel"/> this is shortest remaining
/// time first (SRTF): a waiting job preempts running ones expected to run longer than it. With a width
/// exponent e ≠ 0 the key is remaining time × devices^e (e = −0.5 is the replay's <c>srtf-wide</c>).
/// </summary>
public sealed class ShortestJobFirstSort(double widthExponent = 0) : IQueueSortPlugin
{
    // devices^e for whole device counts, computed once each: preemption by queue-sort level asks for the
    // key of every running workload at every attempt (Math.Pow was 8% of srtf-wide's profile).
    private readonly double[] _widthFactors = new double[257];

    public string Name => "ShortestJobFirst";

    public bool UsesFairShare => false;

    public double Key(WorkloadState workload, DateTimeOffset now)
    {
        if (workload.Spec.EstimatedDurationSeconds is not { } d || !double.IsFinite(d))
        {
            return double.MaxValue;
        }

        // Remaining time: the estimate less the wall time already run, earlier runs included (a requeued
        // workload holds no devices, so attained service over the devices held would say it never ran).
        var remaining = Math.Max(0, d - workload.RanSeconds(now));
        return widthExponent == 0 ? remaining : remaining * WidthFactor(Math.Max(1, workload.RequestedDevices));
    }

    private double WidthFactor(double devices)
    {
        if (devices >= _widthFactors.Length || devices != Math.Floor(devices))
        {
            return Math.Pow(devices, widthExponent);
        }

        var i = (int)devices;
        var factor = _widthFactors[i];
        if (factor == 0)
        {
            factor = Math.Pow(devices, widthExponent);
            _widthFactors[i] = factor;
        }

        return factor;
    }
}

/// <summary>
/// Shortest remaining service first (SRSF, the clairvoyant baseline of Tiresias, Gu et al., NSDI'19):
/// the key is the estimated remaining device-time, devices requested × estimated duration less the
/// device-seconds already attained. Unlike <see cref="ShortestJobFirstSort"/> a wide job counts for every
/// device it blocks, so a short 64-GPU job does not pass sixty-four 1-GPU jobs of the same duration. With
/// <see cref="Framework.PreemptionSpec.ForQueueSortLevel"/> a waiting job preempts running ones with more
/// service left. A workload with no estimate goes after every one that has one.
/// </summary>
public sealed class ShortestRemainingServiceSort : IQueueSortPlugin
{
    public string Name => "ShortestRemainingService";

    public bool UsesFairShare => false;

    public double Key(WorkloadState workload, DateTimeOffset now)
    {
        if (workload.Spec.EstimatedDurationSeconds is not { } d || !double.IsFinite(d))
        {
            return double.MaxValue;
        }

        return Math.Max(0, workload.RequestedDevices * d - workload.AttainedDeviceSeconds(now));
    }
}

/// <summary>
/// Tiresias' two-dimensional least attained service (Gu et al., NSDI'19): service is devices ×
/// seconds run so far, and it is discretised into queues by thresholds so that jobs of one level stay
/// FIFO (no thrashing between near-equal jobs). The key is the level, 0 = least served. With
/// <see cref="Framework.PreemptionSpec.ForQueueSortLevel"/> a waiting workload of a lower level evicts
/// running ones whose level has risen above it; the evicted keep their attained service.
/// </summary>
public sealed class LeastAttainedServiceSort(IReadOnlyList<double> thresholdsDeviceSeconds) : IQueueSortPlugin
{
    private readonly double[] _thresholds = [.. thresholdsDeviceSeconds];

    public string Name => "LeastAttainedService";

    public bool UsesFairShare => false;

    public double Key(WorkloadState workload, DateTimeOffset now)
    {
        var attained = workload.AttainedDeviceSeconds(now);
        var level = 0;
        while (level < _thresholds.Length && attained >= _thresholds[level])
        {
            level++;
        }

        return level;
    }
}
