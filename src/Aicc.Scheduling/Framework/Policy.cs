using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aicc.Scheduling.Framework;

/// <summary>A score plugin with its weight in a policy.</summary>
public sealed record WeightedPlugin(string Plugin, double Weight);

/// <summary>Whom a workload may evict. Kueue's vocabulary: <c>Never</c>, <c>LowerPriority</c>, <c>Any</c>.</summary>
public enum PreemptionScope
{
    Never,
    LowerPriority,
    Any,
}

public sealed record PreemptionSpec
{
    /// <summary>Evict workloads of other queues in the cohort that borrow, to get back this queue's own quota.</summary>
    public PreemptionScope ReclaimWithinCohort { get; init; } = PreemptionScope.Any;

    /// <summary>Evict lower-priority workloads of the same queue.</summary>
    public PreemptionScope WithinQueue { get; init; } = PreemptionScope.LowerPriority;

    /// <summary>Evict lower-priority workloads anywhere when no node has room (capacity, not quota).</summary>
    public PreemptionScope ForCapacity { get; init; } = PreemptionScope.LowerPriority;

    /// <summary>A workload that has run for less than this is never evicted.</summary>
    public double MinRuntimeSeconds { get; init; }

    /// <summary>When no node has room, evict running workloads of the same or lower priority whose queue-sort
    /// key is now strictly larger than the waiting one's (Tiresias: a job of a less-served LAS level
    /// preempts one that has climbed to a higher level). Off by default.</summary>
    public bool ForQueueSortLevel { get; init; }
}

/// <summary>Thresholds of the discretised least-attained-service queues, device-seconds.</summary>
public sealed record LeastAttainedServiceSpec
{
    /// <summary>Level k holds workloads whose attained service is below the k-th threshold; default 1 and
    /// 10 device-hours (three levels).</summary>
    public IReadOnlyList<double> ThresholdsDeviceSeconds { get; init; } = [3600, 36_000];
}

/// <summary>Tuning of <c>ShortestJobFirst</c>.</summary>
public sealed record ShortestJobFirstSpec
{
    /// <summary>The key is the estimated remaining time × devices^WidthExponent. 0 (default) is plain
    /// SJF/SRTF; 1 is remaining device-time (SRSF); below 0 a wide job ranks as if shorter, which offsets
    /// the extra wait a gang has for whole free nodes. Between −2 and 2.</summary>
    public double WidthExponent { get; init; }
}

public sealed record FairSharingSpec
{
    /// <summary>Past usage counts half as much after this long; 0 = only current usage counts (pure DRF).</summary>
    public double HalfLifeSeconds { get; init; } = 3600;
}

/// <summary>
/// A named composition of plugins (the policy file). The simulator and the server read the same names.
/// </summary>
public sealed record PolicySpec
{
    public string Name { get; init; } = "custom";

    /// <summary><c>PriorityFifo</c>, <c>FairShare</c> (DRF), <c>ShortestJobFirst</c> (by the workload's duration
    /// estimate), <c>ShortestRemainingService</c> (devices × estimated duration) or <c>LeastAttainedService</c> (Tiresias 2D-LAS); see Queueing/QueueSorts.cs.</summary>
    public string QueueSort { get; init; } = "PriorityFifo";

    public IReadOnlyList<WeightedPlugin> Scores { get; init; } = [];

    /// <summary>Which devices a pod takes inside the chosen node: <c>BestFit</c>, <c>FGD</c>, <c>Random</c>, <c>First</c>.</summary>
    public string DeviceSelection { get; init; } = "BestFit";

    /// <summary>Among nodes with the same best score: <c>Random</c> (seeded) or <c>First</c> (lowest index).</summary>
    public string TieBreak { get; init; } = "Random";

    public PreemptionSpec Preemption { get; init; } = new();

    public FairSharingSpec FairSharing { get; init; } = new();

    public LeastAttainedServiceSpec LeastAttainedService { get; init; } = new();

    public ShortestJobFirstSpec ShortestJobFirst { get; init; } = new();

    /// <summary><c>None</c>, or <c>Easy</c>: EASY backfilling (Lifka, 1995; Mu'alem and Feitelson, 2001). The
    /// first workload of a cycle that cannot start gets a reservation at the earliest time the running
    /// workloads' estimated ends free room for it; a later workload may start only if it does not delay
    /// that reservation (it ends, by its estimate, before it, or the reserved workload still fits then).</summary>
    public string Backfill { get; init; } = "None";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Parses a policy document (JSON; the CLI turns YAML into the same tree). Returns null and
    /// names every problem when the document is malformed or names unknown plugins.</summary>
    public static PolicySpec? Parse(string json, out IReadOnlyList<string> problems)
    {
        PolicySpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize<PolicySpec>(json, Json);
        }
        catch (JsonException ex)
        {
            problems = [$"policy: {ex.Message}"];
            return null;
        }

        if (spec is null)
        {
            problems = ["policy: the document is empty"];
            return null;
        }

        problems = PluginRegistry.Validate(spec);
        return problems.Count == 0 ? spec : null;
    }

    private static readonly JsonSerializerOptions IndentedJson = new(Json) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, IndentedJson);
}
