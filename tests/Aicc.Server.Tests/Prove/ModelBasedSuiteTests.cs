using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Aicc.Prove;
using Aicc.Scheduling.Model;
using Aicc.Server.Api;
using Aicc.Server.Execution;
using Aicc.Server.Inventory;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// R2 of issue 6: a seeded random walk over the real host (API, SQLite file, scheduling loop) with a
/// fake clock and the <see cref="ModelExecutor"/>. Tenants, queues, cohorts and quotas are made and
/// changed through the API, as are submissions, cancels and node cordons and drains; attempts start
/// and end through <see cref="WorkloadLifecycle"/>, the service the executors report to; a restart
/// disposes the host and builds a new one on the same data directory, adding a node at times. After
/// every cycle <see cref="DatabaseInvariants"/> recomputes capacity, ownership, attempts and quota from
/// the database alone, and the loop's in-memory state is compared with it. Three scripted episodes
/// replay the shapes that made Kueue over-admit: <see cref="ConcurrentPreemptionInCohortAsync"/>,
/// <see cref="SeveralQueuesBorrowingAtOnceAsync"/> and <see cref="OvercommitAfterRestartAsync"/>.
/// </summary>
public sealed class ModelBasedSuiteTests : IDisposable
{
    private const int DevicesPerNode = 4;
    private const int MaxNodes = 6;
    private const int MaxActive = 32;

    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-r2-").FullName;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ModelExecutor _executor = new();
    private readonly List<string> _violations = [];
    private readonly Dictionary<string, long> _figures = new(StringComparer.Ordinal);
    private readonly List<QueueRef> _queues = [];
    private readonly List<(string Name, string? Parent)> _cohorts = [];
    private Random _random = new(0);
    private int _seed;
    private int _nodes = 3;
    private TestServer? _server;
    private HttpClient? _admin;
    private DatabaseInvariants? _invariants;
    private DatabaseWorld? _last;
    private int _cycles;
    private int _processIds = 1000;

    private sealed record QueueRef(string Tenant, string Name, string? Cohort, bool Scripted);

    public void Dispose()
    {
        _invariants?.Dispose();
        _server?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS.
        }
    }

    private TestServer Server => _server!;

    private HttpClient Admin => _admin!;

    private DatabaseInvariants Invariants => _invariants!;

    private void Count(string figure, long by = 1) => _figures[figure] = _figures.GetValueOrDefault(figure) + by;

    [Fact]
    public async Task R2_RandomWalkWithRestartsAndOverAdmitShapes_KeepsEveryInvariantInTheDatabase()
    {
        _seed = ProveReport.SeedOr(20261207);
        _random = new Random(_seed);
        var target = ProveReport.Pick(20_000, 100_000);
        var clock = Stopwatch.StartNew();
        Start();
        await SetUpAsync();
        var episodes = new Func<Task>[] { ConcurrentPreemptionInCohortAsync, SeveralQueuesBorrowingAtOnceAsync, OvercommitAfterRestartAsync };
        var episodeEvery = target / 9;
        var nextEpisode = episodeEvery / 2;
        var episode = 0;
        while (_cycles < target)
        {
            if (_cycles >= nextEpisode)
            {
                await ClearAsync();
                await episodes[episode % episodes.Length]();
                episode++;
                nextEpisode += episodeEvery;
                continue;
            }

            var ops = _random.Next(0, 3);
            for (var i = 0; i < ops; i++)
            {
                await RandomOperationAsync();
            }

            _clock.Advance(_random.Next(50) == 0 ? TimeSpan.FromMinutes(_random.Next(5, 60)) : TimeSpan.FromSeconds(_random.Next(1, 6)));
            await CycleAndCheckAsync();
        }

        await using (var db = Server.Db())
        {
            Count("admissions", await db.Attempts.CountAsync());
            Count("preemptions", await db.Attempts.CountAsync(a => a.State == AttemptStates.Preempted));
            Count("succeeded", await db.Workloads.CountAsync(w => w.State == WorkloadStates.Succeeded));
            Count("failed", await db.Workloads.CountAsync(w => w.State == WorkloadStates.Failed));
            Count("cancelled", await db.Workloads.CountAsync(w => w.State == WorkloadStates.Cancelled));
        }

        Count("stops", _executor.Stops);

        var report = new ProveReport("R2", _seed).Set("cycles", _cycles);
        foreach (var (name, value) in _figures.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            report.Set(name, value);
        }

        report.Set("over_limit_after_quota_decrease", Invariants.OverLimitAfterDecrease)
            .Set("wall_seconds", Math.Round(clock.Elapsed.TotalSeconds, 1))
            .Set("violations", _violations.Count);
        var shapesSeen = _figures.GetValueOrDefault("shape_preemption_both_reclaimed") > 0 &&
            _figures.GetValueOrDefault("shape_borrowing_two_admitted") > 0 &&
            _figures.GetValueOrDefault("shape_restart_refilled_to_quota") > 0;
        report.Emit(_violations.Count == 0 && shapesSeen);
        Assert.True(_violations.Count == 0, $"seed {_seed} (replay with AICC_PROVE_SEED={_seed}): {_violations.Count} violations, first ones:\n" + string.Join("\n", _violations.Take(20)));
        Assert.True(shapesSeen, $"seed {_seed}: an over-admit shape was never exercised: {JsonSerializer.Serialize(_figures)}");
        Assert.True(_figures.GetValueOrDefault("restarts") >= 5, $"seed {_seed}: only {_figures.GetValueOrDefault("restarts")} restarts");
    }

    private void Start()
    {
        var nodes = _nodes;
        _server = new TestServer(
            configure: o =>
            {
                o.VirtualNodes = nodes;
                o.VirtualDevicesPerNode = DevicesPerNode;
                o.RateLimitPerSecond = 1_000_000;
                o.RateLimitBurst = 1_000_000;
            },
            dataDirectory: _dir,
            time: _clock,
            executor: _executor);
        _admin = Server.Admin();
        _invariants ??= new DatabaseInvariants(Server.Get<AcceleratorInventory>().Catalog);
    }

    /// <summary>Disposes the host (the loop saves its fair-share usage) and starts a new one on the same directory.</summary>
    private async Task RestartAsync(bool addNode)
    {
        var fair = Server.Get<SchedulingLoop>().FairUsage;
        _admin!.Dispose();
        Server.Dispose();
        if (addNode && _nodes < MaxNodes)
        {
            _nodes++;
            Count("nodes_added");
        }

        Start();
        Count("restarts");
        await using var db = Server.Db();
        var saved = await db.Settings.AsNoTracking().FirstOrDefaultAsync(s => s.Key == SchedulingLoop.FairUsageKey);
        if (fair is not null && saved?.Value != JsonSerializer.Serialize(fair, JsonBody.Options))
        {
            Violation($"the fair-share usage in memory at stop was not what the database kept: {saved?.Value}");
        }
    }

    private void Violation(string problem) => _violations.Add($"cycle {_cycles} (seed {_seed}): {problem}");

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : Http.Json(json) };
        var response = await Admin.SendAsync(request);
        if ((int)response.StatusCode >= 500)
        {
            Violation($"{method} {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return response;
    }

    private async Task EnsureAsync(HttpMethod method, string path, string json)
    {
        using var response = await SendAsync(method, path, json);
        Assert.True(response.IsSuccessStatusCode, $"seed {_seed}: {method} {path} {json} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static string Quota(long nominal, long? borrowing = null, long? lending = null) =>
        $$"""{"nominal":{{nominal}}{{(borrowing is { } b ? $",\"borrowingLimit\":{b}" : "")}}{{(lending is { } l ? $",\"lendingLimit\":{l}" : "")}}}""";

    private string RandomQuotas(bool cohort)
    {
        var parts = new List<string>();
        if (!cohort || _random.Next(3) == 0)
        {
            var nominal = _random.Next(0, 9) * 1000L;
            long? borrowing = _random.Next(3) == 0 ? null : _random.Next(0, 6) * 1000L;
            long? lending = _random.Next(3) == 0 ? _random.Next(0, (int)(nominal / 1000) + 1) * 1000L : null;
            if (_random.Next(4) == 0)
            {
                nominal += 500;
            }

            parts.Add($"\"accelerator/A100\":{Quota(nominal, borrowing, lending)}");
        }

        if (_random.Next(4) == 0)
        {
            var cpu = _random.Next(4, 64) * 1000L;
            parts.Add($"\"cpu\":{Quota(cpu, _random.Next(2) == 0 ? null : _random.Next(0, 32) * 1000L, _random.Next(3) == 0 ? cpu / 2 : null)}");
        }

        return "{" + string.Join(",", parts) + "}";
    }

    private async Task SetUpAsync()
    {
        _cohorts.Add(("c0", null));
        _cohorts.Add(("c1", null));
        _cohorts.Add(("c0-child", "c0"));
        foreach (var (name, parent) in _cohorts)
        {
            await EnsureAsync(HttpMethod.Put, $"/api/v1/cohorts/{name}", $$"""{"parent":{{(parent is null ? "null" : $"\"{parent}\"")}},"quotas":{{RandomQuotas(cohort: true)}}}""");
        }

        var tenants = _random.Next(3, 6);
        for (var t = 0; t < tenants; t++)
        {
            var tenant = $"t{t}";
            await EnsureAsync(HttpMethod.Post, "/api/v1/tenants", $$"""{"name":"{{tenant}}"}""");
            _queues.Add(new QueueRef(tenant, "default", null, false));
            var queues = _random.Next(1, 3);
            for (var q = 0; q < queues; q++)
            {
                var cohort = _random.Next(4) == 0 ? null : _cohorts[_random.Next(_cohorts.Count)].Name;
                var name = $"q{q}";
                await EnsureAsync(HttpMethod.Post, "/api/v1/queues", $$"""{"tenant":"{{tenant}}","name":"{{name}}","cohort":{{(cohort is null ? "null" : $"\"{cohort}\"")}},"strategy":"{{(_random.Next(5) == 0 ? "StrictFifo" : "BestEffortFifo")}}","quotas":{{RandomQuotas(cohort: false)}}}""");
                _queues.Add(new QueueRef(tenant, name, cohort, false));
            }
        }

        // The queues of the scripted episodes: one tenant each, quota fixed by the episode.
        await EnsureAsync(HttpMethod.Put, "/api/v1/cohorts/shape-preempt", """{"quotas":{}}""");
        await EnsureAsync(HttpMethod.Put, "/api/v1/cohorts/shape-borrow", """{"quotas":{}}""");
        await EnsureAsync(HttpMethod.Put, "/api/v1/cohorts/shape-restart", """{"quotas":{}}""");
        foreach (var (tenant, cohort, nominal, borrowing) in new (string, string, int, int?)[]
        {
            ("sp1", "shape-preempt", 4, null), ("sp2", "shape-preempt", 4, null), ("sp3", "shape-preempt", 4, null),
            ("sb0", "shape-borrow", 6, null), ("sb1", "shape-borrow", 2, null), ("sb2", "shape-borrow", 2, null), ("sb3", "shape-borrow", 2, null),
            ("sr1", "shape-restart", 4, 0), ("sr2", "shape-restart", 4, null),
        })
        {
            await EnsureAsync(HttpMethod.Post, "/api/v1/tenants", $$"""{"name":"{{tenant}}"}""");
            await EnsureAsync(HttpMethod.Post, "/api/v1/queues", $$$"""{"tenant":"{{{tenant}}}","name":"main","cohort":"{{{cohort}}}","quotas":{"accelerator/A100":{{{Quota(nominal * 1000L, borrowing * 1000L)}}}}}""");
            _queues.Add(new QueueRef(tenant, "main", cohort, true));
        }
    }

    private string RandomJob(QueueRef q, out string tenant)
    {
        tenant = q.Tenant;
        var priority = _random.Next(4) switch { 0 => 100, 1 => 50, _ => 0 };
        var accelerator = _random.Next(6) switch
        {
            0 => "null",
            1 or 2 => $$"""{"milli":{{_random.Next(1, 10) * 100}}}""",
            _ => $$"""{"count":{{_random.Next(1, 5)}}}""",
        };
        var pods = _random.Next(4) == 0 ? _random.Next(2, 4) : 1;
        var minCount = pods > 1 && _random.Next(3) == 0 ? $",\"minCount\":{pods - 1}" : "";
        var cpu = _random.Next(1, 24) * 1000;
        var memory = _random.Next(1, 64) * 1024;
        var launcher = _random.Next(8) == 0 ? """{"name":"launcher","count":1,"cpuMilli":500,"memoryMiB":512},""" : "";
        return $$"""{"queue":"{{q.Name}}","command":["train"],"priority":{{priority}},"preemptible":{{(_random.Next(6) == 0 ? "false" : "true")}},"maxRetries":{{_random.Next(2)}},"podSets":[{{launcher}}{"name":"worker","count":{{pods}}{{minCount}},"cpuMilli":{{cpu}},"memoryMiB":{{memory}},"accelerator":{{accelerator}}}]}""";
    }

    private async Task<string?> SubmitAsync(string tenant, string json)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/api/v1/workloads?tenant={tenant}", json);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            Count("submitted");
            return (await response.ReadJsonAsync())["id"]!.GetValue<string>();
        }

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"seed {_seed}: submit answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Count("submissions_rejected");
        return null;
    }

    private async Task RandomOperationAsync()
    {
        var roll = _random.Next(100);
        var active = _last?.Active.Count ?? 0;
        if (roll < 30 && active < MaxActive)
        {
            var q = _queues[_random.Next(_queues.Count)];
            await SubmitAsync(q.Tenant, RandomJob(q, out _));
        }
        else if (roll < 60)
        {
            await AdvanceRunAsync();
        }
        else if (roll < 68)
        {
            await DeliverStopReportAsync();
        }
        else if (roll < 72 && _last is { Active.Count: > 0 } last)
        {
            var w = last.Active[_random.Next(last.Active.Count)];
            using var response = await SendAsync(HttpMethod.Post, $"/api/v1/workloads/{w.Id}/cancel");
            Count("cancels");
        }
        else if (roll < 76)
        {
            var free = _queues.Where(q => !q.Scripted).ToList();
            var q = free[_random.Next(free.Count)];
            await EnsureAsync(HttpMethod.Put, $"/api/v1/queues/{q.Name}/quotas?tenant={q.Tenant}", $$"""{"quotas":{{RandomQuotas(cohort: false)}}}""");
            Count("quota_changes");
        }
        else if (roll < 78)
        {
            var (name, parent) = _cohorts[_random.Next(_cohorts.Count)];
            await EnsureAsync(HttpMethod.Put, $"/api/v1/cohorts/{name}", $$"""{"parent":{{(parent is null ? "null" : $"\"{parent}\"")}},"quotas":{{RandomQuotas(cohort: true)}}}""");
            Count("quota_changes");
        }
        else if (roll < 82)
        {
            var node = $"local-{_random.Next(_nodes)}";
            var action = _random.Next(4) switch { 0 => "cordon", 1 => "drain", _ => "uncordon" };
            using var response = await SendAsync(HttpMethod.Post, $"/api/v1/nodes/{node}/{action}");
            Count("node_" + action);
        }
        else if (roll == 82 && _random.Next(8) == 0)
        {
            await RestartWithChurnAsync();
        }
    }

    /// <summary>Starts an attempt that has not started, or ends a running one (success, failure or time limit).</summary>
    private async Task AdvanceRunAsync()
    {
        var runs = _executor.Snapshot().Where(r => r.StopReason is null).ToList();
        if (runs.Count == 0)
        {
            return;
        }

        var run = runs[_random.Next(runs.Count)];
        var lifecycle = Server.Get<WorkloadLifecycle>();
        var plan = run.Plan;
        bool accepted;
        if (!run.Started)
        {
            run.Started = true;
            accepted = await lifecycle.StartedAsync(plan.WorkloadId, plan.Attempt, [new ProcessRecord("worker-0", _processIds++, 1)], CancellationToken.None);
            Count("started");
        }
        else
        {
            var outcome = _random.Next(10) switch
            {
                0 => new AttemptOutcome(OutcomeKind.Exited, 1, "exit code 1"),
                1 => new AttemptOutcome(OutcomeKind.TimedOut, 137, "time limit"),
                _ => new AttemptOutcome(OutcomeKind.Exited, 0, ""),
            };
            accepted = await lifecycle.EndedAsync(plan.WorkloadId, plan.Attempt, outcome, CancellationToken.None);
            _executor.Forget(run);
            Count("ended");
        }

        if (!accepted)
        {
            Violation($"the report of {plan.WorkloadId} attempt {plan.Attempt}, which nobody stopped, was rejected as stale");
        }
    }

    /// <summary>A stopped attempt's processes end: its report is accepted when a cancel stopped it, rejected as stale after a preemption or drain.</summary>
    private async Task DeliverStopReportAsync()
    {
        var stopped = _executor.Snapshot().Where(r => r.StopReason is not null).ToList();
        if (stopped.Count == 0)
        {
            return;
        }

        var run = stopped[_random.Next(stopped.Count)];
        var accepted = await Server.Get<WorkloadLifecycle>().EndedAsync(run.Plan.WorkloadId, run.Plan.Attempt, new AttemptOutcome(OutcomeKind.Cancelled, 143, "stopped: " + run.StopReason), CancellationToken.None);
        _executor.Forget(run);
        Count(accepted ? "stop_reports_accepted" : "stale_reports_rejected");
    }

    /// <summary>While the server is down, some running attempts end and some launches never arrive.</summary>
    private async Task RestartWithChurnAsync()
    {
        foreach (var run in _executor.Snapshot())
        {
            if (run.Started && run.StopReason is null && _random.Next(8) == 0)
            {
                run.EndedWhileAway = new AttemptOutcome(OutcomeKind.Exited, 0, "");
                Count("ended_while_down");
            }
            else if (!run.Started && _random.Next(3) == 0)
            {
                _executor.Forget(run);
                Count("launches_lost_in_restart");
            }
        }

        await RestartAsync(addNode: _random.Next(3) == 0);
    }

    private async Task CycleAndCheckAsync()
    {
        var before = await Invariants.ReadAsync(Server, usageOnly: true);
        var launchesBefore = _executor.Launches;
        await Server.CycleAsync();
        _cycles++;

        // The whole attempts table every 100 cycles; in between, the attempts of active workloads (an index).
        var after = await Invariants.ReadAsync(Server, allAttempts: _cycles % 100 == 0);
        var problems = Invariants.Check(before, after);
        CheckLoopAgainstDatabase(before, after, problems);
        CheckExecutorAgainstDatabase(after, launchesBefore, problems);
        foreach (var p in problems)
        {
            Violation(p);
        }

        Invariants.Prune(after);
        _last = after;
        _figures["max_active"] = Math.Max(_figures.GetValueOrDefault("max_active"), after.Active.Count);
    }

    /// <summary>The loop's in-memory state: metrics, the waiting board, the spec cache and fair-share usage.</summary>
    private void CheckLoopAgainstDatabase(DatabaseWorld before, DatabaseWorld after, List<string> problems)
    {
        var metrics = Server.Get<ServerMetrics>();
        if (metrics.AllocatedMilli != after.AllocatedMilli)
        {
            problems.Add($"the loop counts {metrics.AllocatedMilli} milli allocated, the database {after.AllocatedMilli}");
        }

        var devices = after.Devices.Values.Sum(d => d.Count) * 1000L;
        if (metrics.TotalMilli != devices)
        {
            problems.Add($"the loop counts {metrics.TotalMilli} milli of devices, the database {devices}");
        }

        var board = Server.Get<WaitingBoard>();
        var positions = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var w in after.Active)
        {
            var entry = board.Get(w.Id);
            if (w.State != WorkloadStates.Pending && entry is not null)
            {
                problems.Add($"the waiting board lists {w.State} {w.Id}");
            }
            else if (w.State == WorkloadStates.Pending && entry is null)
            {
                problems.Add($"pending {w.Id} is not on the waiting board");
            }

            if (entry is { } e)
            {
                var key = w.TenantId + "/" + w.Queue;
                (positions.TryGetValue(key, out var list) ? list : positions[key] = []).Add(e.Position);
            }
        }

        foreach (var (queue, list) in positions)
        {
            list.Sort();
            if (!list.SequenceEqual(Enumerable.Range(1, list.Count)))
            {
                problems.Add($"queue {queue}: waiting positions [{string.Join(",", list)}]");
            }
        }

        var loop = Server.Get<SchedulingLoop>();
        var cached = loop.CachedSpecs;
        foreach (var w in after.Active)
        {
            if (!cached.TryGetValue(w.Id, out var spec))
            {
                problems.Add($"active {w.Id} is not in the loop's spec cache");
            }
            else if (spec.Queue != w.TenantId + "/" + w.Queue || spec.PodCount != Invariants.Spec(w.Id).PodCount || spec.Priority != Invariants.Spec(w.Id).Priority)
            {
                problems.Add($"the loop's cached spec of {w.Id} differs from the database's");
            }
        }

        // The cache holds what was active when the cycle began, and nothing else.
        var activeAtStart = before.Active.Select(w => w.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in cached.Keys.Where(k => !activeAtStart.Contains(k)))
        {
            problems.Add($"the loop still caches {id}, which was not active when the cycle began");
        }

        if (loop.FairUsage is { } fair)
        {
            var names = after.Queues.Select(q => q.CoreName).Concat(after.Cohorts.Select(c => c.Name)).ToHashSet(StringComparer.Ordinal);
            foreach (var name in fair.Usage.Keys.Where(n => !names.Contains(n)))
            {
                problems.Add($"fair-share usage names {name}, which is neither a queue nor a cohort");
            }
        }
    }

    /// <summary>Every live attempt in the database runs on the executor; nothing runs there that the database does not count.</summary>
    private void CheckExecutorAgainstDatabase(DatabaseWorld after, int launchesBefore, List<string> problems)
    {
        var live = after.LiveAttempts.ToHashSet();
        var runs = _executor.Snapshot();
        foreach (var (id, number) in live.Where(a => !_executor.Knows(a.WorkloadId, a.Number)))
        {
            problems.Add($"{id} attempt {number} is live in the database but the executor never got it");
        }

        foreach (var run in runs.Where(r => r.StopReason is null && !live.Contains((r.Plan.WorkloadId, r.Plan.Attempt))))
        {
            problems.Add($"the executor runs {run.Plan.WorkloadId} attempt {run.Plan.Attempt}, which the database does not count as live and nobody stopped");
        }

        var nodes = after.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var launched = _executor.Launches - launchesBefore;
        foreach (var run in runs.Where(r => r.Sequence > launchesBefore && r.Plan.Pods.Any(p => nodes[p.Node].Cordoned || nodes[p.Node].Draining)))
        {
            problems.Add($"{run.Plan.WorkloadId} attempt {run.Plan.Attempt} launched on a cordoned node");
        }

        Count("launches", launched);
    }

    /// <summary>Ends everything (cancels what waits, ends every attempt) so an episode starts on an empty cluster.</summary>
    private async Task ClearAsync()
    {
        foreach (var node in Enumerable.Range(0, _nodes))
        {
            using var response = await SendAsync(HttpMethod.Post, $"/api/v1/nodes/local-{node}/uncordon");
        }

        var lifecycle = Server.Get<WorkloadLifecycle>();
        for (var round = 0; round < 5 && (_last is null || _last.Active.Count > 0 || _executor.RunningCount > 0); round++)
        {
            foreach (var w in _last?.Active.Where(w => w.State == WorkloadStates.Pending) ?? [])
            {
                using var response = await SendAsync(HttpMethod.Post, $"/api/v1/workloads/{w.Id}/cancel");
            }

            foreach (var run in _executor.Snapshot())
            {
                if (run.StopReason is null && !run.Started)
                {
                    await lifecycle.StartedAsync(run.Plan.WorkloadId, run.Plan.Attempt, [], CancellationToken.None);
                }

                await lifecycle.EndedAsync(run.Plan.WorkloadId, run.Plan.Attempt, new AttemptOutcome(OutcomeKind.Exited, 0, ""), CancellationToken.None);
                _executor.Forget(run);
            }

            _clock.Advance(TimeSpan.FromSeconds(1));
            await CycleAndCheckAsync();
        }

        Assert.True(_last!.Active.Count == 0, $"seed {_seed}: the cluster did not empty before an episode: {_last.Active.Count} active");
    }

    private async Task StartAllAsync()
    {
        var lifecycle = Server.Get<WorkloadLifecycle>();
        foreach (var run in _executor.Snapshot().Where(r => !r.Started && r.StopReason is null))
        {
            run.Started = true;
            await lifecycle.StartedAsync(run.Plan.WorkloadId, run.Plan.Attempt, [new ProcessRecord("worker-0", _processIds++, 1)], CancellationToken.None);
        }
    }

    private static string Gpus(string queue, int pods, int priority = 0) =>
        $$$"""{"queue":"{{{queue}}}","command":["train"],"priority":{{{priority}}},"podSets":[{"name":"worker","count":{{{pods}}},"cpuMilli":1000,"memoryMiB":1024,"accelerator":{"count":1}}]}""";

    private async Task<List<string>> AdmittedInAsync(params string[] tenants)
    {
        await using var db = Server.Db();
        return await db.Workloads.AsNoTracking()
            .Where(w => tenants.Contains(w.TenantId) && (w.State == WorkloadStates.Admitted || w.State == WorkloadStates.Running))
            .Select(w => w.TenantId).ToListAsync();
    }

    /// <summary>
    /// Kueue over-admitted when two ClusterQueues of one cohort preempted in the same cycle, each counting
    /// on the same freed quota. Here sp3 borrows the whole cohort (12 one-GPU jobs), then sp1 and sp2 each
    /// ask for their own 4 GPUs in one cycle: both must reclaim, and the cohort must stay within 12.
    /// </summary>
    private async Task ConcurrentPreemptionInCohortAsync()
    {
        Count("shape_preemption_runs");
        for (var i = 0; i < 12; i++)
        {
            await SubmitAsync("sp3", Gpus("main", 1));
        }

        await CycleAndCheckAsync();
        await StartAllAsync();
        _clock.Advance(TimeSpan.FromMinutes(5));
        await SubmitAsync("sp1", Gpus("main", 4));
        await SubmitAsync("sp2", Gpus("main", 4));
        await CycleAndCheckAsync();
        var admitted = await AdmittedInAsync("sp1", "sp2");
        if (admitted.Contains("sp1") && admitted.Contains("sp2"))
        {
            Count("shape_preemption_both_reclaimed");
        }
    }

    /// <summary>
    /// Kueue over-admitted when several ClusterQueues borrowed from one cohort in the same cycle. Here
    /// sb1, sb2 and sb3 (2 GPUs each) ask for 5 GPUs each at once while sb0 lends its 6 (sometimes only 4,
    /// through a lending limit): two may borrow, the third must wait.
    /// </summary>
    private async Task SeveralQueuesBorrowingAtOnceAsync()
    {
        Count("shape_borrowing_runs");
        var lending = _random.Next(2) == 0 ? 4000L : (long?)null;
        await EnsureAsync(HttpMethod.Put, "/api/v1/queues/main/quotas?tenant=sb0", $$$"""{"quotas":{"accelerator/A100":{{{Quota(6000, null, lending)}}}}}""");
        foreach (var tenant in new[] { "sb1", "sb2", "sb3" })
        {
            await SubmitAsync(tenant, Gpus("main", 5));
        }

        await CycleAndCheckAsync();
        var admitted = await AdmittedInAsync("sb1", "sb2", "sb3");
        if (admitted.Count == 2)
        {
            Count("shape_borrowing_two_admitted");
        }

        await StartAllAsync();
        await CycleAndCheckAsync();
    }

    /// <summary>
    /// Kueue over-admitted after a controller restart, before its cache held the workloads admitted
    /// earlier. Here sr1 (4 GPUs, no borrowing) runs 4 jobs with 3 more waiting; the server restarts
    /// while one job ends and one launch is lost; the first cycles after the restart refill sr1 to exactly
    /// 4 GPUs, never more.
    /// </summary>
    private async Task OvercommitAfterRestartAsync()
    {
        Count("shape_restart_runs");
        for (var i = 0; i < 7; i++)
        {
            await SubmitAsync("sr1", Gpus("main", 1));
        }

        await CycleAndCheckAsync();
        var runs = _executor.Snapshot();
        foreach (var run in runs.Take(3))
        {
            run.Started = true;
            await Server.Get<WorkloadLifecycle>().StartedAsync(run.Plan.WorkloadId, run.Plan.Attempt, [new ProcessRecord("worker-0", _processIds++, 1)], CancellationToken.None);
        }

        if (runs.Count == 4)
        {
            runs[0].EndedWhileAway = new AttemptOutcome(OutcomeKind.Exited, 0, "");
            _executor.Forget(runs[3]);
        }

        await RestartAsync(addNode: false);
        await CycleAndCheckAsync();
        await RestartAsync(addNode: false);
        await CycleAndCheckAsync();
        var admitted = await AdmittedInAsync("sr1");
        if (runs.Count == 4 && admitted.Count == 4)
        {
            Count("shape_restart_refilled_to_quota");
        }
    }
}
