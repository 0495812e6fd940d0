using System.Net;
using System.Text.Json;
using Aicc.Server.Api;
using Aicc.Server.Execution;
using Aicc.Server.Inventory;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Aicc.Server.Tests.Prove;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Tests;

public sealed class SchedulingTests : IDisposable
{
    private readonly TestServer _server = new();

    public void Dispose() => _server.Dispose();

    /// <summary>Recomputes capacity, ownership, attempts and every quota limit from the database alone (the checks of R2).</summary>
    private async Task AssertInvariantsFromDatabaseAsync()
    {
        using var invariants = new DatabaseInvariants(_server.Get<AcceleratorInventory>().Catalog);
        var problems = invariants.Check(null, await invariants.ReadAsync(_server, allAttempts: true));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Stop_AfterCyclesWithUsage_KeepsDecayedFairShareUsageForTheNextStart()
    {
        var admin = _server.Admin();
        (await admin.SubmitAsync(Http.Job(gpus: 2))).EnsureSuccessStatusCode();
        Assert.Equal(1, await _server.CycleAsync());
        await Task.Delay(50);
        await _server.CycleAsync();

        await _server.Get<SchedulingLoop>().StopAsync(CancellationToken.None);

        await using var db = _server.Db();
        var row = await db.Settings.AsNoTracking().SingleAsync(s => s.Key == SchedulingLoop.FairUsageKey);
        var saved = JsonSerializer.Deserialize<Aicc.Scheduling.Framework.FairUsageSnapshot>(row.Value, JsonBody.Options)!;
        var queue = Assert.Single(saved.Usage);
        Assert.Contains("default", queue.Key, StringComparison.Ordinal);
        Assert.True(queue.Value["accelerator/A100"] > 0, row.Value);
        Assert.NotNull(saved.At);
    }

    [Fact]
    public async Task Cycle_QuotaOfThreeDevices_AdmitsThreeAndExplainsWhyTheRestWait()
    {
        var admin = _server.Admin();
        (await admin.PutAsync("/api/v1/queues/default/quotas", Http.Json("""{"quotas":{"accelerator/A100":{"nominal":3000}}}"""))).EnsureSuccessStatusCode();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await (await admin.SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>());
        }

        Assert.Equal(3, await _server.CycleAsync());
        await AssertInvariantsFromDatabaseAsync();
        Assert.Equal(3, _server.Executor.Launched.Count);
        var fourth = await (await admin.GetAsync($"/api/v1/workloads/{ids[3]}")).ReadJsonAsync();
        var fifth = await (await admin.GetAsync($"/api/v1/workloads/{ids[4]}")).ReadJsonAsync();
        Assert.Equal("Pending", fourth["state"]!.GetValue<string>());
        Assert.Equal(1, fourth["waiting"]!["queuePosition"]!.GetValue<int>());
        Assert.Equal(2, fifth["waiting"]!["queuePosition"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(fourth["waiting"]!["reason"]!.GetValue<string>()));
        Assert.DoesNotContain("default/", fourth["waiting"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cycle_ManyCyclesWithFinishes_KeepsCapacityInvariantsInTheDatabase()
    {
        var admin = _server.Admin();
        var lifecycle = _server.Get<WorkloadLifecycle>();
        var random = new Random(4711);
        for (var round = 0; round < 12; round++)
        {
            for (var i = 0; i < 3; i++)
            {
                (await admin.SubmitAsync(Http.Job(pods: random.Next(1, 3), gpus: random.Next(1, 5)))).EnsureSuccessStatusCode();
            }

            await _server.CycleAsync();
            await AssertInvariantsFromDatabaseAsync();
            var launched = _server.Executor.Launched.ToList();
            foreach (var plan in launched.Where(_ => random.Next(2) == 0))
            {
                await lifecycle.StartedAsync(plan.WorkloadId, plan.Attempt, [], CancellationToken.None);
                await lifecycle.EndedAsync(plan.WorkloadId, plan.Attempt, new AttemptOutcome(OutcomeKind.Exited, 0, ""), CancellationToken.None);
                _server.Executor.Launched.Remove(plan);
            }
        }

        await using var db = _server.Db();
        Assert.True(await db.Workloads.CountAsync(w => w.State == WorkloadStates.Succeeded) > 0, "seed 4711: nothing finished");
    }

    [Fact]
    public async Task Report_FromAStaleAttempt_IsRejectedAndRetriesAreNumbered()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(retries: 1))).ReadJsonAsync())["id"]!.GetValue<string>();
        var lifecycle = _server.Get<WorkloadLifecycle>();
        await _server.CycleAsync();
        Assert.True(await lifecycle.StartedAsync(id, 1, [], CancellationToken.None));
        Assert.True(await lifecycle.EndedAsync(id, 1, new AttemptOutcome(OutcomeKind.Exited, 2, "exit code 2"), CancellationToken.None));
        await _server.CycleAsync();
        Assert.False(await lifecycle.EndedAsync(id, 1, new AttemptOutcome(OutcomeKind.Exited, 0, ""), CancellationToken.None));
        Assert.True(await lifecycle.EndedAsync(id, 2, new AttemptOutcome(OutcomeKind.Exited, 5, "exit code 5"), CancellationToken.None));
        var w = await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync();
        Assert.Equal("Failed", w["state"]!.GetValue<string>());
        Assert.Equal(5, w["exitCode"]!.GetValue<int>());
        Assert.Equal([1, 2], w["attempts"]!.AsArray().Select(a => a!["number"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Lost_AttemptsThatNeverStarted_AreRequeuedWithoutLimitButStartedOnesCount()
    {
        // Found by the R1 crash suite: a job admitted again and again just before the server was killed
        // ended Failed after four lost attempts although it had never run.
        var admin = _server.Admin();
        var neverStarted = (await (await admin.SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>();
        var lifecycle = _server.Get<WorkloadLifecycle>();
        var lost = new AttemptOutcome(OutcomeKind.Lost, null, "the server stopped before the attempt started");
        for (var attempt = 1; attempt <= WorkloadLifecycle.MaxLostAttempts + 3; attempt++)
        {
            await _server.CycleAsync();
            Assert.True(await lifecycle.EndedAsync(neverStarted, attempt, lost, CancellationToken.None));
        }

        var w = await (await admin.GetAsync($"/api/v1/workloads/{neverStarted}")).ReadJsonAsync();
        Assert.Equal("Pending", w["state"]!.GetValue<string>());

        var started = (await (await admin.SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>();
        var gone = new AttemptOutcome(OutcomeKind.Lost, null, "the server restarted and the attempt's processes were gone");
        for (var attempt = 1; attempt <= WorkloadLifecycle.MaxLostAttempts + 1; attempt++)
        {
            await _server.CycleAsync();
            var current = (await (await admin.GetAsync($"/api/v1/workloads/{started}")).ReadJsonAsync())["attempt"]!.GetValue<int>();
            Assert.True(await lifecycle.StartedAsync(started, current, [], CancellationToken.None));
            Assert.True(await lifecycle.EndedAsync(started, current, gone, CancellationToken.None));
        }

        w = await (await admin.GetAsync($"/api/v1/workloads/{started}")).ReadJsonAsync();
        Assert.Equal("Failed", w["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_RunningWorkload_TellsTheExecutorAndEndsCancelledWhenItStops()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>();
        var pending = (await (await admin.SubmitAsync(Http.Job(gpus: 4))).ReadJsonAsync())["id"]!.GetValue<string>();
        await _server.CycleAsync();
        var cancel = await admin.PostAsync($"/api/v1/workloads/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Contains(_server.Executor.Stopped, s => s.Id == id && s.Attempt == 1);
        await _server.Get<WorkloadLifecycle>().EndedAsync(id, 1, new AttemptOutcome(OutcomeKind.Cancelled, 143, "cancelled"), CancellationToken.None);
        Assert.Equal("Cancelled", (await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync())["state"]!.GetValue<string>());
        await admin.PostAsync($"/api/v1/workloads/{pending}/cancel", null);
        var w = await (await admin.GetAsync($"/api/v1/workloads/{pending}")).ReadJsonAsync();
        Assert.True(w["state"]!.GetValue<string>() is "Cancelled" or "Admitted");
    }

    [Fact]
    public async Task Cycle_HigherPriority_PreemptsAndTheVictimIsRequeuedAndStopped()
    {
        var admin = _server.Admin();
        var low = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            low.Add((await (await admin.SubmitAsync(Http.Job(gpus: 4))).ReadJsonAsync())["id"]!.GetValue<string>());
        }

        await _server.CycleAsync();
        var high = (await (await admin.SubmitAsync(Http.Job(gpus: 4, priority: 100))).ReadJsonAsync())["id"]!.GetValue<string>();
        await _server.CycleAsync();
        await AssertInvariantsFromDatabaseAsync();
        var w = await (await admin.GetAsync($"/api/v1/workloads/{high}")).ReadJsonAsync();
        Assert.Equal("Admitted", w["state"]!.GetValue<string>());
        var victim = Assert.Single(_server.Executor.Stopped);
        Assert.Contains(victim.Id, low);
        var requeued = await (await admin.GetAsync($"/api/v1/workloads/{victim.Id}")).ReadJsonAsync();
        Assert.Equal("Pending", requeued["state"]!.GetValue<string>());
        Assert.Equal(1, requeued["waiting"]?["queuePosition"]?.GetValue<int>());
        Assert.False(await _server.Get<WorkloadLifecycle>().EndedAsync(victim.Id, 1, new AttemptOutcome(OutcomeKind.Cancelled, 143, ""), CancellationToken.None));
    }

    [Fact]
    public async Task Cycle_AQueueReclaimsFromAGangAdmittedEarlierInTheSameCycle_CommitsOnlyWhatTheCoreKept()
    {
        // Found by R2 ("several queues borrowing at once"): b1 and b2 borrow a device each, then b3 takes
        // back its own quota by preempting b2, admitted moments before in the same cycle. Committing every
        // admission put b2 and b3 on the same devices and the cohort two devices over its quota.
        var admin = _server.Admin();
        (await admin.PutAsync("/api/v1/cohorts/pool", Http.Json("""{"quotas":{}}"""))).EnsureSuccessStatusCode();
        foreach (var queue in new[] { "lender", "b1", "b2", "b3" })
        {
            (await admin.PostAsync("/api/v1/queues", Http.Json($$$$"""{"name":"{{{{queue}}}}","cohort":"pool","quotas":{"accelerator/A100":{"nominal":2000}}}"""))).EnsureSuccessStatusCode();
        }

        foreach (var queue in new[] { "b1", "b2", "b3" })
        {
            (await admin.SubmitAsync(Http.Job(pods: 3, queue: queue))).EnsureSuccessStatusCode();
        }

        var admitted = await _server.CycleAsync();

        await AssertInvariantsFromDatabaseAsync();
        await using var db = _server.Db();
        var live = await db.Workloads.CountAsync(w => w.State == WorkloadStates.Admitted);
        Assert.Equal(2, live);
        Assert.Equal(live, admitted);
        Assert.Equal(live, _server.Executor.Launched.Count);
        Assert.Empty(_server.Executor.Stopped);
        Assert.False(await db.Events.AnyAsync(e => e.Type == "Preempted"), "a workload that never ran was reported preempted");
    }

    [Fact]
    public async Task Drain_NodeOfAWorkloadBeingCancelled_EndsItCancelledInsteadOfRequeuingIt()
    {
        // Found by R2: a running workload whose cancel was under way went back to Pending when its node was
        // drained (or it was preempted), and waited there forever: cancel-requested work is never scheduled.
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(gpus: 4))).ReadJsonAsync())["id"]!.GetValue<string>();
        await _server.CycleAsync();
        (await admin.PostAsync($"/api/v1/workloads/{id}/cancel", null)).EnsureSuccessStatusCode();
        var node = (await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync())["placement"]![0]!["node"]!.GetValue<string>();
        (await admin.PostAsync($"/api/v1/nodes/{node}/drain", null)).EnsureSuccessStatusCode();

        Assert.Equal(0, await _server.CycleAsync());

        var w = await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync();
        Assert.Equal("Cancelled", w["state"]!.GetValue<string>());
        Assert.Single(_server.Executor.Launched);
        await AssertInvariantsFromDatabaseAsync();
    }

    [Fact]
    public async Task Drain_Node_RequeuesItsWorkloadsAndPlacesNothingThere()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(gpus: 4))).ReadJsonAsync())["id"]!.GetValue<string>();
        await _server.CycleAsync();
        var node = (await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync())["placement"]![0]!["node"]!.GetValue<string>();
        (await admin.PostAsync($"/api/v1/nodes/{node}/drain", null)).EnsureSuccessStatusCode();
        await _server.CycleAsync();
        var w = await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync();
        Assert.Contains(_server.Executor.Stopped, s => s.Id == id);
        Assert.NotEqual(node, w["placement"]!.AsArray().FirstOrDefault()?["node"]?.GetValue<string>());
    }
}
