using System.Diagnostics;
using System.Text.Json;
using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Server.Api;
using Aicc.Server.Execution;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Scheduling;

/// <summary>
/// One cycle: read a snapshot of nodes, queues and active workloads from the database; rebuild the
/// core (Restore what runs, Submit what waits); RunCycle; commit admissions, preemptions and drains in
/// ONE transaction guarded by row versions; only then tell the executor. A conflicting write (a
/// cancel, a report) aborts the commit and the next cycle starts from the new truth.
/// </summary>
public sealed partial class SchedulingLoop(
    IServiceScopeFactory scopes,
    ServerContext server,
    IWorkloadExecutor executor,
    DbWriter writer,
    WaitingBoard board,
    ServerMetrics metrics,
    WorkloadLifecycle lifecycle,
    ILogger<SchedulingLoop> logger) : BackgroundService
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly Dictionary<string, WorkloadSpec> _specs = new(StringComparer.Ordinal);
    private FairUsageSnapshot? _fairUsage;
    private DateTimeOffset _fairUsageSavedAt;
    private bool _fairUsageLoaded;

    /// <summary>The settings key under which decayed fair-share usage survives a restart.</summary>
    public const string FairUsageKey = "fair-usage";

    /// <summary>How often the decayed fair-share usage is written to the database.</summary>
    public static readonly TimeSpan FairUsageSaveInterval = TimeSpan.FromSeconds(30);

    /// <summary>The parsed specs kept between cycles, by workload id (R2 compares them with the database).</summary>
    internal IReadOnlyDictionary<string, WorkloadSpec> CachedSpecs => _specs;

    /// <summary>The decayed fair-share usage carried from one cycle to the next.</summary>
    internal FairUsageSnapshot? FairUsage => _fairUsage;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!server.Options.AutoSchedule)
        {
            return;
        }

        while (!server.Ready)
        {
            await Task.Delay(20, stoppingToken);
        }

        var interval = TimeSpan.FromSeconds(server.Options.CycleIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is DbUpdateException or Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
            {
                LogCycleFailed(logger, e.Message);
            }

            try
            {
                await server.Signal.WaitAsync(interval, server.Time, stoppingToken);

                // Let a burst of submissions land so one cycle admits them together, and rest at least
                // as long as the cycle took: under a stream of submissions the loop then uses at most
                // half of one core and leaves the rest to the API.
                var took = Stopwatch.GetElapsedTime(started);
                await Task.Delay(took > TimeSpan.FromMilliseconds(10) ? took : TimeSpan.FromMilliseconds(10), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Keeps the latest fair-share history for the next start.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_fairUsage is { } usage)
        {
            await SaveFairUsageAsync(usage, cancellationToken);
        }
    }

    /// <summary>Runs one cycle now; returns how many workloads it admitted (tests drive the loop with this).</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        await _oneAtATime.WaitAsync(ct);
        try
        {
            return await CycleAsync(ct);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private async Task<int> CycleAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
        var nodes = await db.Nodes.AsNoTracking().ToListAsync(ct);
        var queues = await db.Queues.AsNoTracking().ToListAsync(ct);
        var cohorts = await db.Cohorts.AsNoTracking().ToListAsync(ct);
        // Untracked: a cycle changes a handful of the thousands of rows it reads; it attaches those.
        var active = await db.Workloads
            .AsNoTracking()
            .Where(w => w.State == WorkloadStates.Pending || w.State == WorkloadStates.Admitted || w.State == WorkloadStates.Running)
            .OrderBy(w => w.Seq)
            .ToListAsync(ct);
        var scheduler = ClusterSnapshot.Build(server.Inventory.Catalog, nodes, queues, cohorts, server.Policy, out var problems);
        if (scheduler is null)
        {
            LogCycleFailed(logger, "queues or cohorts are inconsistent: " + string.Join("; ", problems));
            return 0;
        }

        var now = server.Time.GetUtcNow();
        var byId = active.ToDictionary(w => w.Id, StringComparer.Ordinal);
        var evictions = new List<(WorkloadRow Row, string Reason)>();
        var failures = new List<(WorkloadRow Row, string Reason)>();
        foreach (var w in active.Where(w => w.State != WorkloadStates.Pending))
        {
            var spec = Spec(w);
            var pods = PlacementDto.Read(w.PlacementJson)
                .Select(p => new Aicc.Scheduling.Framework.PodPlacement(p.PodSet, p.Index, p.Node, p.Devices, p.MilliPerDevice)).ToList();
            if (scheduler.Restore(spec, pods, w.AdmittedAt ?? now).Count > 0)
            {
                evictions.Add((w, "its recorded placement no longer fits the node inventory"));
            }
        }

        foreach (var node in nodes.Where(n => n.Draining))
        {
            foreach (var id in scheduler.NodeDown(node.Name))
            {
                evictions.Add((byId[id], $"node {node.Name} is being drained"));
            }
        }

        foreach (var w in active.Where(w => w.State == WorkloadStates.Pending && !w.CancelRequested))
        {
            var submitProblems = scheduler.Submit(Spec(w));
            if (submitProblems.Count > 0)
            {
                failures.Add((w, "can no longer be scheduled: " + string.Join("; ", submitProblems.Select(p => JobSpec.Untenant(p, w.TenantId)))));
            }
        }

        // Fair share remembers past cycles (and, through the settings table, past restarts).
        if (!_fairUsageLoaded)
        {
            _fairUsage = await LoadFairUsageAsync(db, ct);
            _fairUsageLoaded = true;
        }

        if (_fairUsage is not null)
        {
            scheduler.RestoreFairUsage(_fairUsage);
        }

        var result = scheduler.RunCycle(now);
        var launches = new List<LaunchPlan>();
        var stops = new List<(string Id, int Attempt, string Reason)>();
        foreach (var eviction in result.Evicted)
        {
            evictions.Add((byId[eviction.WorkloadId], eviction.Reason));
        }

        foreach (var admission in result.Admitted)
        {
            foreach (var victim in admission.Victims)
            {
                evictions.Add((byId[victim], $"preempted for {admission.WorkloadId}"));
            }
        }

        // A cycle may admit a workload and later pick it as a victim (or evict one and admit it again):
        // only what the core holds at the end of the cycle is committed. Committing every admission put
        // two gangs on the same devices and a cohort over its quota (found by R2, shape "several queues
        // borrowing at once"). A victim that was pending when the cycle began has no attempt to stop.
        var final = result.Admitted
            .GroupBy(a => a.WorkloadId, StringComparer.Ordinal)
            .Select(g => g.Last())
            .Where(a => scheduler.Get(a.WorkloadId)?.Phase == WorkloadPhase.Admitted)
            .ToList();
        var admissions = final.Where(a => !byId[a.WorkloadId].CancelRequested).ToList();
        var uncommittedMilli = final.Where(a => byId[a.WorkloadId].CancelRequested).Sum(a => a.Pods.Sum(p => (long)p.Devices.Count * p.MilliPerDevice));
        var waits = new List<double>();
        foreach (var (w, reason) in evictions.Where(e => e.Row.State != WorkloadStates.Pending).DistinctBy(e => e.Row.Id))
        {
            var attempt = await db.Attempts.FirstOrDefaultAsync(a => a.WorkloadId == w.Id && a.Number == w.Attempt, ct);
            if (attempt is not null && AttemptStates.IsLive(attempt.State))
            {
                attempt.State = AttemptStates.Preempted;
                attempt.Reason = reason;
                attempt.EndedAt = now;

                // The attempt's later end report is stale and rejected, so its use is charged here, in
                // the transaction that ends it: a preempted tenant pays for what it ran, once.
                await lifecycle.MeterAsync(db, w, JsonSerializer.Deserialize<JobSpec>(w.SpecJson, JsonBody.Options)!, attempt, now, ct);
            }

            db.Attach(w);
            stops.Add((w.Id, w.Attempt, reason));
            if (w.CancelRequested)
            {
                // Its cancel is already under way and cancel-requested work is never submitted again:
                // requeued, it waited forever (found by R2). The stop is its end.
                WorkloadLifecycle.Finish(w, WorkloadStates.Cancelled, null, $"cancelled; its attempt was stopped: {reason}", now);
            }
            else
            {
                WorkloadLifecycle.Requeue(w, "requeued: " + reason);
            }

            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = w.Id, At = now, Type = w.CancelRequested ? "Cancelled" : "Preempted", Message = $"attempt {w.Attempt}: {reason}" });
        }

        // Rows that an earlier version left waiting with a cancel requested end now.
        foreach (var w in active.Where(w => w.State == WorkloadStates.Pending && w.CancelRequested))
        {
            db.Attach(w);
            WorkloadLifecycle.Finish(w, WorkloadStates.Cancelled, null, "cancelled while it was being stopped", now);
            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = w.Id, At = now, Type = "Cancelled", Message = "cancel requested while it ran; it had been requeued" });
        }

        foreach (var (w, reason) in failures)
        {
            db.Attach(w);
            w.State = WorkloadStates.Failed;
            w.Reason = reason;
            w.FinishedAt = now;
            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = w.Id, At = now, Type = "Failed", Message = reason });
        }

        foreach (var admission in admissions)
        {
            var w = byId[admission.WorkloadId];
            db.Attach(w);
            var spec = JsonSerializer.Deserialize<JobSpec>(w.SpecJson, JsonBody.Options)!;
            var rank = 0;
            var pods = admission.Pods
                .OrderBy(p => spec.PodSets!.FindIndex(s => (s.Name ?? "main") == p.PodSet) is var i and >= 0 ? i : 0).ThenBy(p => p.Index)
                .Select(p => new PlacementDto(p.PodSet, p.Index, p.Node, p.Devices, p.MilliPerDevice, rank++)).ToList();
            var json = PlacementDto.Write(pods);
            w.Attempt++;
            w.State = WorkloadStates.Admitted;
            w.PlacementJson = json;
            w.AdmittedAt = now;
            w.Reason = null;
            w.Version++;
            db.Attempts.Add(new AttemptRow { WorkloadId = w.Id, Number = w.Attempt, PlacementJson = json, AdmittedAt = now });
            db.Events.Add(new EventRow { WorkloadId = w.Id, At = now, Type = "Admitted", Message = $"attempt {w.Attempt} on {string.Join(", ", pods.Select(p => p.Node).Distinct())}" });
            launches.Add(new LaunchPlan(w.Id, w.TenantId, w.Queue, w.Name, w.Attempt, spec, pods));
            waits.Add((now - w.SubmittedAt).TotalSeconds);
        }

        // Only the commit holds the database writer, so queued submissions and reports wait a few
        // milliseconds instead of meeting SQLite's busy handler.
        using (await writer.AcquireAsync(ct))
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            try
            {
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                await tx.RollbackAsync(ct);
                metrics.Increment("aicc_cycle_conflicts_total");
                server.Signal.Wake();
                return 0;
            }
        }

        _fairUsage = scheduler.SaveFairUsage();
        if (now - _fairUsageSavedAt >= FairUsageSaveInterval)
        {
            _fairUsageSavedAt = now;
            await SaveFairUsageAsync(_fairUsage, ct);
        }

        metrics.AdmissionWaitSecondsSum += waits.Sum();
        metrics.Admissions += waits.Count;
        foreach (var (id, attempt, reason) in stops)
        {
            executor.StopAttempt(id, attempt, reason);
        }

        foreach (var plan in launches)
        {
            executor.Launch(plan);
        }

        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        var waiting = new Dictionary<string, (string, int)>(StringComparer.Ordinal);
        foreach (var (id, reason) in result.Waiting)
        {
            // A workload evicted while its cancel was under way waits in the core but ended in the database.
            if (byId.TryGetValue(id, out var w) && w.State != WorkloadStates.Pending)
            {
                continue;
            }

            var queue = w is not null ? w.TenantId + "/" + w.Queue : "";
            var position = positions.GetValueOrDefault(queue) + 1;
            positions[queue] = position;
            waiting[id] = (reason, position);
        }

        // The cycle's victims wait as well, though it did not consider them again.
        foreach (var w in active.Where(w => w.State == WorkloadStates.Pending && !waiting.ContainsKey(w.Id)))
        {
            if (scheduler.Get(w.Id) is { Phase: WorkloadPhase.Pending } state)
            {
                var queue = w.TenantId + "/" + w.Queue;
                var position = positions.GetValueOrDefault(queue) + 1;
                positions[queue] = position;
                waiting[w.Id] = (state.Reason ?? w.Reason ?? "waiting", position);
            }
        }

        board.Publish(waiting, now);
        metrics.AllocatedMilli = scheduler.Cluster.AllocatedMilli - uncommittedMilli;
        metrics.TotalMilli = scheduler.Cluster.TotalDevices * 1000L;
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        metrics.LastCycleSeconds = seconds;
        metrics.CycleSecondsSum += seconds;
        metrics.Cycles++;
        foreach (var id in _specs.Keys.Where(k => !byId.ContainsKey(k)).ToList())
        {
            _specs.Remove(id);
        }

        return admissions.Count;
    }

    private static async Task<FairUsageSnapshot?> LoadFairUsageAsync(AiccDb db, CancellationToken ct)
    {
        var row = await db.Settings.AsNoTracking().FirstOrDefaultAsync(s => s.Key == FairUsageKey, ct);
        try
        {
            return row is null ? null : JsonSerializer.Deserialize<FairUsageSnapshot>(row.Value, JsonBody.Options);
        }
        catch (JsonException)
        {
            // An unreadable record only costs history: fair share starts from what runs now.
            return null;
        }
    }

    private async Task SaveFairUsageAsync(FairUsageSnapshot usage, CancellationToken ct)
    {
        var json = JsonSerializer.Serialize(usage, JsonBody.Options);
        await writer.WriteAsync(
            async (db, wct) =>
            {
                var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == FairUsageKey, wct);
                if (row is null)
                {
                    db.Settings.Add(new SettingRow { Key = FairUsageKey, Value = json });
                }
                else
                {
                    row.Value = json;
                }

                return true;
            },
            ct);
    }

    private WorkloadSpec Spec(WorkloadRow w)
    {
        if (!_specs.TryGetValue(w.Id, out var spec))
        {
            spec = JsonSerializer.Deserialize<JobSpec>(w.SpecJson, JsonBody.Options)!.ToCore(w.Id, w.TenantId, w.SubmittedAt);
            _specs[w.Id] = spec;
        }

        return spec;
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Scheduling cycle failed: {Error}")]
    private static partial void LogCycleFailed(ILogger logger, string error);
}
