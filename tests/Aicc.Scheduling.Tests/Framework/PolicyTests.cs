using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Tests.Framework;

public sealed class PolicyTests
{
    [Fact]
    public void Parse_ValidDocument_ReadsEveryField()
    {
        const string json = """
            {
              // comments and trailing commas are allowed
              "name": "mine",
              "queueSort": "FairShare",
              "scores": [ { "plugin": "FGD", "weight": 10 }, { "plugin": "bestfit", "weight": 1 }, ],
              "deviceSelection": "FGD",
              "tieBreak": "First",
              "preemption": { "minRuntimeSeconds": 60, "forCapacity": "Never", "withinQueue": "Any" },
              "fairSharing": { "halfLifeSeconds": 600 }
            }
            """;

        var policy = PolicySpec.Parse(json, out var problems);

        Assert.Empty(problems);
        Assert.NotNull(policy);
        Assert.Equal("mine", policy.Name);
        Assert.Equal("FairShare", policy.QueueSort);
        Assert.Equal([new WeightedPlugin("FGD", 10), new WeightedPlugin("bestfit", 1)], policy.Scores);
        Assert.Equal("First", policy.TieBreak);
        Assert.Equal(new PreemptionSpec { MinRuntimeSeconds = 60, ForCapacity = PreemptionScope.Never, WithinQueue = PreemptionScope.Any }, policy.Preemption);
        Assert.Equal(600, policy.FairSharing.HalfLifeSeconds);
    }

    [Fact]
    public void Parse_UnknownField_NamesIt()
    {
        var policy = PolicySpec.Parse("""{ "name": "x", "sores": [] }""", out var problems);

        Assert.Null(policy);
        Assert.Contains("sores", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralBadValues_NamesEveryProblemWithTheChoices()
    {
        const string json = """
            { "queueSort": "Lottery", "scores": [ { "plugin": "Nope", "weight": 1 }, { "plugin": "FGD", "weight": -2 } ],
              "deviceSelection": "Worst", "tieBreak": "Coin", "preemption": { "minRuntimeSeconds": -1 }, "fairSharing": { "halfLifeSeconds": -5 } }
            """;

        var policy = PolicySpec.Parse(json, out var problems);

        Assert.Null(policy);
        Assert.Equal(7, problems.Count);
        Assert.StartsWith("queueSort: unknown 'Lottery' (choose PriorityFifo, FairShare,", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("scores[0].plugin: unknown 'Nope' (choose LeastAllocated, BestFit,", problems[1], StringComparison.Ordinal);
        Assert.Equal("scores[1].weight: -2 must be a finite number ≥ 0", problems[2]);
        Assert.StartsWith("deviceSelection: unknown 'Worst'", problems[3], StringComparison.Ordinal);
        Assert.StartsWith("tieBreak: unknown 'Coin'", problems[4], StringComparison.Ordinal);
        Assert.StartsWith("preemption.minRuntimeSeconds", problems[5], StringComparison.Ordinal);
        Assert.StartsWith("fairSharing.halfLifeSeconds", problems[6], StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ForCapacityAny_IsRefusedWithTheReason()
    {
        PolicySpec.Parse("""{ "preemption": { "forCapacity": "Any" } }""", out var problems);

        Assert.Contains("equal priority evict each other", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{ \"scores\": 3 }")]
    public void Parse_MalformedDocument_ReturnsAProblemInsteadOfThrowing(string json)
    {
        Assert.Null(PolicySpec.Parse(json, out var problems));
        Assert.StartsWith("policy: ", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_BuiltInNameOrDocument_ReturnsThePolicy()
    {
        Assert.Same(PluginRegistry.Policies["fgd"], PluginRegistry.Resolve("FGD", out var none));
        Assert.Empty(none);
        Assert.Equal("inline", PluginRegistry.Resolve("""{ "name": "inline", "scores": [ { "plugin": "Random", "weight": 1 } ] }""", out _)!.Name);

        Assert.Null(PluginRegistry.Resolve("fastest", out var problems));
        Assert.StartsWith("unknown policy 'fastest' (choose random, dotprod,", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void ToJson_EveryBuiltInPolicy_ParsesBackEqual()
    {
        foreach (var (name, policy) in PluginRegistry.Policies)
        {
            var back = PolicySpec.Parse(policy.ToJson(), out var problems);

            Assert.True(problems.Count == 0, $"{name}: {string.Join("; ", problems)}");
            Assert.Equal(policy.Scores, back!.Scores);
            Assert.Equal(policy.ToJson(), back.ToJson());
        }
    }
}
