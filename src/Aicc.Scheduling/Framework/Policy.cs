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

    /// <summary><c>PriorityFifo</c> or <c>FairShare</c>.</summary>
    public string QueueSort { get; init; } = "PriorityFifo";

    public IReadOnlyList<WeightedPlugin> Scores { get; init; } = [];

    /// <summary>Which devices a pod takes inside the chosen node: <c>BestFit</c>, <c>FGD</c>, <c>Random</c>, <c>First</c>.</summary>
    public string DeviceSelection { get; init; } = "BestFit";

    /// <summary>Among nodes with the same best score: <c>Random</c> (seeded) or <c>First</c> (lowest index).</summary>
    public string TieBreak { get; init; } = "Random";

    public PreemptionSpec Preemption { get; init; } = new();

    public FairSharingSpec FairSharing { get; init; } = new();

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
