using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aicc.Server.Execution;
using Aicc.Server.Hosting;
using Aicc.Server.Inventory;
using Microsoft.Extensions.Time.Testing;

namespace Aicc.Server.Tests;

/// <summary>
/// Metering is what tenants are billed on: every ended attempt must be charged exactly its
/// accelerator share × the time it ran, per model, with SCU and CPU beside it.
/// </summary>
public sealed class UsageTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly TestServer _server;

    public UsageTests()
    {
        _server = new TestServer(time: _clock);
    }

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task Usage_RandomJobsRunForWholeSeconds_ChargesExactlyShareTimesDuration()
    {
        const int seed = 20261207;
        var random = new Random(seed);
        var admin = _server.Admin();
        var lifecycle = _server.Get<WorkloadLifecycle>();
        var model = _server.Get<AcceleratorInventory>().Catalog.Types.Single(t => t.Name == _server.Get<ServerContext>().Options.VirtualModel);
        long expectedAccMilliSeconds = 0, expectedCpuMilliSeconds = 0;
        for (var job = 0; job < 25; job++)
        {
            var pods = random.Next(1, 3);
            var whole = random.Next(2) == 0;
            var accelerator = whole ? $$"""{"count":{{random.Next(1, 3)}}}""" : $$"""{"milli":{{random.Next(1, 1000)}}}""";
            var cpuMilli = random.Next(1, 9) * 250;
            var body = $$"""{"queue":"default","command":["true"],"podSets":[{"name":"worker","count":{{pods}},"cpuMilli":{{cpuMilli}},"memoryMiB":512,"accelerator":{{accelerator}}}]}""";
            var id = (await (await admin.SubmitAsync(body)).ReadJsonAsync())["id"]!.GetValue<string>();
            Assert.Equal(1, await _server.CycleAsync());
            Assert.True(await lifecycle.StartedAsync(id, 1, [], CancellationToken.None), $"seed {seed}: job {job} did not start");
            var seconds = random.Next(1, 7200);
            _clock.Advance(TimeSpan.FromSeconds(seconds));
            Assert.True(await lifecycle.EndedAsync(id, 1, new AttemptOutcome(OutcomeKind.Exited, random.Next(2) == 0 ? 0 : 3, ""), CancellationToken.None));
            var perPod = whole ? JsonNode.Parse(accelerator)!["count"]!.GetValue<int>() * 1000L : JsonNode.Parse(accelerator)!["milli"]!.GetValue<long>();
            expectedAccMilliSeconds += pods * perPod * seconds;
            expectedCpuMilliSeconds += pods * (long)cpuMilli * seconds;
        }

        await using var db = _server.Db();
        var rows = db.Usage.ToList();
        Assert.Equal(expectedAccMilliSeconds, rows.Sum(u => u.AcceleratorMilliSeconds));
        Assert.Equal(expectedCpuMilliSeconds, rows.Sum(u => u.CpuMilliSeconds));
        Assert.All(rows, u => Assert.Equal(model.Name, u.Model));

        // Units: milli-device-seconds and millicore-seconds. SCU is the accelerator use weighted by the model's standard compute units; each row rounds down.
        var scu = rows.Sum(u => u.ScuMilliSeconds);
        Assert.InRange(scu, (expectedAccMilliSeconds * model.ScuMilli / 1000) - rows.Count, expectedAccMilliSeconds * model.ScuMilli / 1000);

        var report = await admin.GetFromJsonAsync<JsonNode>("/api/v1/usage");
        var line = Assert.Single(report!["lines"]!.AsArray());
        Assert.Equal(Math.Round(expectedAccMilliSeconds / 1000.0 / 3_600_000.0 * 1000.0, 6), line!["acceleratorHours"]!.GetValue<double>(), 6);
        Assert.Equal(Math.Round(expectedCpuMilliSeconds / 1000.0 / 3_600_000.0 * 1000.0, 6), line["cpuHours"]!.GetValue<double>(), 6);
    }

    [Fact]
    public async Task Usage_PreemptedAttempt_IsChargedForWhatItRanOnceAndItsLateReportAddsNothing()
    {
        var admin = _server.Admin();
        var lifecycle = _server.Get<WorkloadLifecycle>();
        var low = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            low.Add((await (await admin.SubmitAsync(Http.Job(gpus: 4))).ReadJsonAsync())["id"]!.GetValue<string>());
        }

        Assert.Equal(2, await _server.CycleAsync());
        foreach (var id in low)
        {
            Assert.True(await lifecycle.StartedAsync(id, 1, [], CancellationToken.None));
        }

        _clock.Advance(TimeSpan.FromSeconds(600));
        await admin.SubmitAsync(Http.Job(gpus: 4, priority: 100));
        Assert.Equal(1, await _server.CycleAsync());
        var victim = Assert.Single(_server.Executor.Stopped).Id;
        var survivor = low.Single(id => id != victim);
        Assert.False(await lifecycle.EndedAsync(victim, 1, new AttemptOutcome(OutcomeKind.Cancelled, 143, "stopped"), CancellationToken.None));
        _clock.Advance(TimeSpan.FromSeconds(600));
        Assert.True(await lifecycle.EndedAsync(survivor, 1, new AttemptOutcome(OutcomeKind.Exited, 0, ""), CancellationToken.None));

        await using var db = _server.Db();
        var victimRow = Assert.Single(db.Usage.Where(u => u.WorkloadId == victim).ToList());
        Assert.Equal(4 * 1000L * 600, victimRow.AcceleratorMilliSeconds);
        Assert.Equal(1000L * 600, victimRow.CpuMilliSeconds);
        Assert.Equal(4 * 1000L * 1200, Assert.Single(db.Usage.Where(u => u.WorkloadId == survivor).ToList()).AcceleratorMilliSeconds);
    }
}
