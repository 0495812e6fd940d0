using Aicc.Scheduling.Framework;

namespace Aicc.Simulation.Replay;

/// <summary>Where a replayed job's duration estimate comes from.</summary>
public enum DurationEstimates
{
    /// <summary>No estimate is given to the core.</summary>
    None,

    /// <summary>The true duration (an upper bound on what any predictor can do).</summary>
    Oracle,

    /// <summary>Predicted at submission from the submitter's completed jobs (<see cref="DurationPredictor"/>).</summary>
    Predicted,
}

/// <summary>How jobs map to the core's queues.</summary>
public enum QueueLayout
{
    /// <summary>One queue for everyone.</summary>
    Shared,

    /// <summary>One queue per tenant, no quota; fair share weighted by the tenant's demand share.</summary>
    PerTenant,

    /// <summary>One queue per tenant with a nominal GPU quota, all in one cohort that lends idle quota.</summary>
    PerTenantQuota,
}

/// <summary>
/// A replay policy: a core <see cref="PolicySpec"/> (queue sort, backfill, preemption), where duration
/// estimates come from, and how tenants map to queues. The names are what <c>aicc sim replay --policy</c>
/// accepts; every decision is still made by the scheduling core.
/// </summary>
public sealed record ReplayPolicy(string Name, string Description, PolicySpec Core, DurationEstimates Estimates, QueueLayout Layout)
{
    private static readonly PreemptionSpec NoPreemption = new()
    {
        ReclaimWithinCohort = PreemptionScope.Never,
        WithinQueue = PreemptionScope.Never,
        ForCapacity = PreemptionScope.Never,
    };

    // Best fit packs gangs onto few nodes; First tie-break keeps the replay cheap and reproducible.
    private static PolicySpec Base(string name) => new()
    {
        Name = name,
        Scores = [new("BestFit", 1000)],
        DeviceSelection = "BestFit",
        TieBreak = "First",
        Preemption = NoPreemption,
    };

    public static readonly IReadOnlyList<ReplayPolicy> All =
    [
        new("fifo", "first come, first served (best effort: a later job may pass a head that does not fit)", Base("fifo"), DurationEstimates.None, QueueLayout.Shared),
        new("sjf-oracle", "shortest job first with the true durations", Base("sjf-oracle") with { QueueSort = "ShortestJobFirst" }, DurationEstimates.Oracle, QueueLayout.Shared),
        new("sjf-predicted", "shortest job first with durations predicted from the submitter's completed jobs", Base("sjf-predicted") with { QueueSort = "ShortestJobFirst" }, DurationEstimates.Predicted, QueueLayout.Shared),
        new("srtf-oracle", "shortest remaining time first with the true durations: a waiting job preempts running ones with more time left (they resume from a checkpoint)", Base("srtf-oracle") with
        {
            QueueSort = "ShortestJobFirst",
            Preemption = NoPreemption with { ForQueueSortLevel = true },
        }, DurationEstimates.Oracle, QueueLayout.Shared),
        new("srtf-wide", "SRTF with the true durations, a wide job ranked by remaining time / √GPUs so that gangs waiting for whole nodes are not passed by every narrow job", Base("srtf-wide") with
        {
            QueueSort = "ShortestJobFirst",
            ShortestJobFirst = new() { WidthExponent = -0.5 },
            Preemption = NoPreemption with { ForQueueSortLevel = true },
        }, DurationEstimates.Oracle, QueueLayout.Shared),
        new("srtf-predicted", "shortest remaining time first with predicted durations", Base("srtf-predicted") with
        {
            QueueSort = "ShortestJobFirst",
            Preemption = NoPreemption with { ForQueueSortLevel = true },
        }, DurationEstimates.Predicted, QueueLayout.Shared),
        new("srsf-oracle", "shortest remaining service first (GPUs × time left, Tiresias' clairvoyant SRSF) with the true durations, preemptive", Base("srsf-oracle") with
        {
            QueueSort = "ShortestRemainingService",
            Preemption = NoPreemption with { ForQueueSortLevel = true },
        }, DurationEstimates.Oracle, QueueLayout.Shared),
        new("las", "Tiresias 2D least attained service: 3 discretised queues (1 and 10 GPU-hours), preemption by level", Base("las") with
        {
            QueueSort = "LeastAttainedService",
            Preemption = NoPreemption with { ForQueueSortLevel = true },
        }, DurationEstimates.None, QueueLayout.Shared),
        new("easy", "FIFO with EASY backfill on the true durations", Base("easy") with { Backfill = "Easy" }, DurationEstimates.Oracle, QueueLayout.Shared),
        new("easy-predicted", "FIFO with EASY backfill on predicted durations", Base("easy-predicted") with { Backfill = "Easy" }, DurationEstimates.Predicted, QueueLayout.Shared),
        new("quota", "a queue per tenant with a GPU quota (its demand share), cohort borrowing, reclaim by preemption", Base("quota") with
        {
            Preemption = NoPreemption with { ReclaimWithinCohort = PreemptionScope.Any },
        }, DurationEstimates.None, QueueLayout.PerTenantQuota),
        new("quota-sjf", "quota + borrowing + reclaim, shortest predicted job first inside each tenant's queue", Base("quota-sjf") with
        {
            QueueSort = "ShortestJobFirst",
            Preemption = NoPreemption with { ReclaimWithinCohort = PreemptionScope.Any },
        }, DurationEstimates.Predicted, QueueLayout.PerTenantQuota),
        new("drf", "DRF fair share across tenants with usage decaying over 1 h, FIFO inside a tenant", Base("drf") with { QueueSort = "FairShare" }, DurationEstimates.None, QueueLayout.PerTenant),
    ];

    public static ReplayPolicy? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    public static string Names => string.Join(", ", All.Select(p => p.Name));
}
