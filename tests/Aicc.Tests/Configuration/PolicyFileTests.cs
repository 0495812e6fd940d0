using Aicc.Configuration;

namespace Aicc.Tests.Configuration;

public class PolicyFileTests
{
    private static string RepoRoot() => Repo.Root;

    public static TheoryData<string> ExamplePolicies()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(RepoRoot(), "examples", "policies")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ExamplePolicies))]
    public void Load_DocumentedExample_ParsesWithoutProblems(string file)
    {
        var policy = PolicyFile.Load(Path.Combine(RepoRoot(), "examples", "policies", file), out var problems);

        Assert.Empty(problems);
        Assert.NotNull(policy);
        Assert.NotEmpty(policy.Scores);
    }

    [Fact]
    public void Load_YamlExample_ReadsNumbersEnumsAndNestedSections()
    {
        var policy = PolicyFile.Load(Path.Combine(RepoRoot(), "examples", "policies", "research-center.yaml"), out _);

        Assert.NotNull(policy);
        Assert.Equal("FairShare", policy.QueueSort);
        Assert.Equal(1000, policy.Scores[0].Weight);
        Assert.Equal(600, policy.Preemption.MinRuntimeSeconds);
        Assert.Equal(21600, policy.FairSharing.HalfLifeSeconds);
    }

    [Fact]
    public void Load_BuiltInName_ReturnsRegistryPolicy()
    {
        var policy = PolicyFile.Load("fgd", out var problems);

        Assert.Empty(problems);
        Assert.Equal("fgd", policy!.Name);
    }

    [Fact]
    public void Load_BadYaml_NamesFileAndEveryProblem()
    {
        var path = Path.Combine(Path.GetTempPath(), $"aicc-policy-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "queueSort: Lottery\nscores:\n  - plugin: Magic\n    weight: 1\n  - plugin: FGD\n    weight: -5\ndeviceSelection: Nearest\n");
        try
        {
            var policy = PolicyFile.Load(path, out var problems);

            Assert.Null(policy);
            Assert.Equal(4, problems.Count);
            Assert.All(problems, p => Assert.StartsWith(path, p, StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("queueSort", StringComparison.Ordinal) && p.Contains("Lottery", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("scores[0].plugin", StringComparison.Ordinal) && p.Contains("Magic", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("scores[1].weight", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("deviceSelection", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_UnknownField_IsRejectedByName()
    {
        var path = Path.Combine(Path.GetTempPath(), $"aicc-policy-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "name": "x", "scores": [], "colour": "blue" }""");
        try
        {
            var policy = PolicyFile.Load(path, out var problems);

            Assert.Null(policy);
            Assert.Contains(problems, p => p.Contains("colour", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_MissingFile_SaysWhatWasExpected()
    {
        var policy = PolicyFile.Load("/nonexistent/policy.yaml", out var problems);

        Assert.Null(policy);
        Assert.Contains("neither a built-in policy", Assert.Single(problems), StringComparison.Ordinal);
    }
    // Found by F1 (fuzz/Aicc.Fuzz, target policy-yaml): each of these once escaped as an exception
    // the CLI did not turn into a message, or overflowed the stack.
    [Theory]
    [InlineData("&a [*a]", "nested more than")]
    [InlineData("a: &a [1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "values once aliases are expanded")]
    [InlineData("[1, 2]: x", "a key must be a name")]
    [InlineData("queueSort: Fifo\nqueueSort: Sjf\n", "Duplicate key")]
    [InlineData("!!+3B x", "not valid YAML")]
    public void YamlToJson_HostileDocument_IsAYamlErrorWithAReason(string yaml, string reason)
    {
        var ex = Assert.Throws<YamlDotNet.Core.YamlException>(() => PolicyFile.YamlToJson(yaml));

        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ScoresWithoutAList_IsAProblemNotACrash()
    {
        var path = Path.Combine(Path.GetTempPath(), $"aicc-policy-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "queueSort: Fifo\nscores:\n");
        try
        {
            var policy = PolicyFile.Load(path, out var problems);

            Assert.Null(policy);
            Assert.Contains(problems, p => p.Contains("scores: must be a list", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
