using System.Text.Json;

namespace Aicc.Tests.Commands;

/// <summary>
/// <c>aicc sim pack</c> and <c>aicc sim pack-compare</c> as a user runs them, on the small example cluster
/// and pod lists in <c>examples/pack</c> (one pod list in the openb CSV format, one in our JSON format).
/// </summary>
public sealed class SimPackCommandTests : IDisposable
{
    private static readonly string Examples = Path.Combine(Repo.Root, "examples", "pack");
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-pack-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Pack_ExampleJsonPodList_PrintsOneObjectWithTheDocumentedKeysAndWritesThePlot()
    {
        var json = Path.Combine(_dir, "out.json");
        var plot = Path.Combine(_dir, "out.png");

        var run = await RunAsync("sim", "pack", "--nodes", Path.Combine(Examples, "nodes.csv"), "--pods", Path.Combine(Examples, "pods-inference.json"),
            "--policy", "aicc", "--seeds", "1-3", "--json", json, "--plot", plot);

        Assert.True(run.Code == 0, run.Stderr);
        var printed = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.Equal(File.ReadAllText(json).Trim(), run.Stdout.Trim());
        Assert.Equal("pods-inference", printed.GetProperty("workload").GetString());
        Assert.Equal(80, printed.GetProperty("gpus").GetInt32());
        Assert.Equal([1, 2, 3], printed.GetProperty("seeds").EnumerateArray().Select(s => s.GetInt32()));
        var alloc = printed.GetProperty("alloc_pct");
        Assert.Equal(["80", "90", "95", "100", "110", "120", "130"], alloc.EnumerateObject().Select(p => p.Name));
        Assert.InRange(alloc.GetProperty("130").GetDouble(), alloc.GetProperty("80").GetDouble(), 100);
        Assert.Equal(3, printed.GetProperty("alloc_pct_by_seed").EnumerateObject().Count());
        Assert.True(printed.GetProperty("unallocated_gpus_at_130").GetInt32() >= 0);
        Assert.True(new FileInfo(plot).Length > 1000, "the plot is missing or empty");
    }

    [Fact]
    public async Task PackCompare_BothExampleLists_WritesTheReportTableCsvJsonAndOnePlotPerList()
    {
        var outDir = Path.Combine(_dir, "report");

        var run = await RunAsync("sim", "pack-compare", "--nodes", Path.Combine(Examples, "nodes.csv"),
            "--pods", Path.Combine(Examples, "pods-train.csv"), Path.Combine(Examples, "pods-inference.json"),
            "--policies", "fgd,aicc", "--seeds", "1-2", "--out", outDir);

        Assert.True(run.Code == 0, run.Stderr);
        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        foreach (var row in new[] { "| pods-train | fgd |", "| pods-train | aicc |", "| pods-inference | fgd |", "| pods-inference | aicc |" })
        {
            Assert.Contains(row, report, StringComparison.Ordinal);
        }

        Assert.Equal(4, JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json"))).RootElement.GetArrayLength());
        Assert.Equal(5, File.ReadAllLines(Path.Combine(outDir, "results.csv")).Length);
        Assert.True(File.Exists(Path.Combine(outDir, "pods-train.png")) && File.Exists(Path.Combine(outDir, "pods-inference.png")));
    }

    [Fact]
    public async Task Pack_SeveralBadArguments_NamesEveryOneAtOnceAndWritesNothing()
    {
        var json = Path.Combine(_dir, "out.json");

        var run = await RunAsync("sim", "pack", "--nodes", Path.Combine(_dir, "no-such-nodes.csv"), "--pods", Path.Combine(Examples, "pods-train.csv"),
            "--policy", "fgdx", "--seeds", "5-1", "--tune", "0", "--json", json);

        Assert.Equal(2, run.Code);
        Assert.Contains("--seeds: '5-1' is not a seed or a range", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("--tune 0: must be a number in (0, 10]", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("--policy: policy 'fgdx' is neither a built-in policy", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("no-such-nodes.csv: file not found", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
        Assert.False(File.Exists(json));
    }

    [Theory]
    [InlineData("pod train-000\n", "1-2", "--replay: a replay file is one run; give one seed (--seeds 42), not 2")]
    [InlineData("node 0 g8-00\npod train-000\n", "1", "replay.txt: 15 of 16 nodes have no rank")]
    [InlineData(null, "1", "replay.txt: file not found")]
    public async Task Pack_BadReplay_IsRefusedWithTheReasonBeforeAnythingRuns(string? replayText, string seeds, string expected)
    {
        var replay = Path.Combine(_dir, "replay.txt");
        if (replayText is not null)
        {
            File.WriteAllText(replay, replayText);
        }

        var run = await RunAsync("sim", "pack", "--nodes", Path.Combine(Examples, "nodes.csv"), "--pods", Path.Combine(Examples, "pods-train.csv"),
            "--replay", replay, "--seeds", seeds);

        Assert.Equal(2, run.Code);
        Assert.Contains(expected, run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    private static async Task<CliProcess.Result> RunAsync(params string[] args) => await CliProcess.RunAsync(args);
}
