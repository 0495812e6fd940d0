using System.Text.Json;
using Aicc.Commands;

namespace Aicc.Tests.Commands;

public sealed class SimReplayCommandTests
{
    [Fact]
    public void TightBound_ExampleTrace_ReportsABoundBetweenTheMeanDurationAndThePolicy()
    {
        var json = Path.Combine(Path.GetTempPath(), $"aicc-replay-{Guid.NewGuid():N}.json");
        try
        {
            var trace = Path.Combine(Repo.Root, "examples", "plan", "jobs.csv");
            var code = SimReplayCommand.Create().Parse(["--trace", trace, "--load", "0.9", "--policy", "srtf-oracle", "--no-private", "--tight-bound", "--json", json]).Invoke();

            Assert.Equal(0, code);
            var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
            var busy = report.GetProperty("jct_busy_time_bound_s").GetDouble();
            Assert.InRange(busy, report.GetProperty("jct_lower_bound_s").GetDouble(), report.GetProperty("avg_jct_s").GetDouble());
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public void WithoutTightBound_TheKeyIsNull()
    {
        var json = Path.Combine(Path.GetTempPath(), $"aicc-replay-{Guid.NewGuid():N}.json");
        try
        {
            var trace = Path.Combine(Repo.Root, "examples", "plan", "jobs.csv");
            var code = SimReplayCommand.Create().Parse(["--trace", trace, "--jobs", "200", "--gpus", "16", "--policy", "fifo", "--no-private", "--json", json]).Invoke();

            Assert.Equal(0, code);
            var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
            Assert.Equal(JsonValueKind.Null, report.GetProperty("jct_busy_time_bound_s").ValueKind);
        }
        finally
        {
            File.Delete(json);
        }
    }
}
