using System.Diagnostics;
using System.Text.Json.Nodes;
using Aicc.Prove;

namespace Aicc.Slurm.Tests;

/// <summary>
/// Issue 7's measurement: 500 trivial jobs through Aicc to Slurm (one CPU each, so 32 run at once on
/// the four dev nodes). Figures: submit-to-running latency (Aicc admission to Slurm RUNNING, and
/// API submit to RUNNING) and sustained jobs per second; every job must succeed exactly once.
/// </summary>
public sealed class SlurmThroughputTests : IAsyncLifetime
{
    private readonly SlurmCluster _cluster = new();

    public async ValueTask InitializeAsync() => await _cluster.Server.StartAsync();

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task FiveHundredTrivialJobs_AllSucceedOnce()
    {
        const int Jobs = 500;
        using var http = _cluster.Client();
        var clock = Stopwatch.StartNew();
        var ids = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            ids.Add((await SlurmCluster.SubmitAsync(http, SlurmCluster.Job($"t-{i}", new JsonArray("true"))))["id"]!.GetValue<string>());
        }

        var submitted = clock.Elapsed.TotalSeconds;
        var done = new List<JsonNode>();
        foreach (var id in ids)
        {
            done.Add(await SlurmCluster.WaitAsync(http, id, TimeSpan.FromSeconds(600), "Succeeded", "Failed", "Cancelled"));
        }

        var wall = clock.Elapsed.TotalSeconds;
        static DateTimeOffset At(JsonNode w, string field) => DateTimeOffset.Parse(w[field]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var admitToRun = done.Where(w => w["startedAt"] is not null).Select(w => (At(w, "startedAt") - At(w, "admittedAt")).TotalMilliseconds).Order().ToList();
        var submitToRun = done.Where(w => w["startedAt"] is not null).Select(w => (At(w, "startedAt") - At(w, "submittedAt")).TotalMilliseconds).Order().ToList();
        double P(List<double> xs, double q) => xs.Count == 0 ? double.NaN : xs[(int)Math.Min(xs.Count - 1, Math.Floor(q * xs.Count))];
        var succeeded = done.Count(w => w["state"]!.GetValue<string>() == "Succeeded");
        var retried = done.Count(w => w["attempt"]!.GetValue<int>() != 1);
        var first = done.Min(w => At(w, "submittedAt"));
        var last = done.Max(w => At(w, "finishedAt"));
        var report = new ProveReport("SLURM-500", 0)
            .Set("jobs", Jobs)
            .Set("succeeded", succeeded)
            .Set("not_first_attempt", retried)
            .Set("api_submit_s", Math.Round(submitted, 2))
            .Set("wall_s", Math.Round(wall, 2))
            .Set("jobs_per_s", Math.Round(Jobs / (last - first).TotalSeconds, 1))
            .Set("admit_to_running_p50_ms", Math.Round(P(admitToRun, 0.5)))
            .Set("admit_to_running_p95_ms", Math.Round(P(admitToRun, 0.95)))
            .Set("submit_to_running_p50_ms", Math.Round(P(submitToRun, 0.5)))
            .Set("submit_to_running_p95_ms", Math.Round(P(submitToRun, 0.95)));
        var pass = succeeded == Jobs && retried == 0;
        report.Emit(pass);
        Assert.Equal(Jobs, succeeded);
        Assert.Equal(0, retried);
    }
}
