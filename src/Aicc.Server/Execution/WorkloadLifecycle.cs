using System.Text.Json;
using Aicc.Server.Api;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Execution;

/// <summary>
/// The state changes that do not come from the scheduling cycle: an attempt started or ended, a
/// cancel. Each is guarded by the row version and goes through the <see cref="DbWriter"/>, which
/// commits many of them together; a report about an attempt that is no longer the workload's
/// current, live attempt is rejected.
/// </summary>
public sealed partial class WorkloadLifecycle(DbWriter writer, ServerContext server, IServiceProvider services, ILogger<WorkloadLifecycle> logger)
{
    public const int MaxLostAttempts = 3;

    private DeviceMap? _devices;

    /// <summary>
    /// Records where an attempt was handed (a Slurm job id) while it is still starting, before the
    /// executor waits for it to run, so a restart finds it. False for a stale attempt.
    /// </summary>
    public async Task<bool> SubmittedAsync(string workloadId, int attempt, IReadOnlyList<ProcessRecord> processes, CancellationToken ct)
    {
        return await RetryAsync(async db =>
        {
            var w = await db.Workloads.FirstOrDefaultAsync(x => x.Id == workloadId, ct);
            var a = await db.Attempts.FirstOrDefaultAsync(x => x.WorkloadId == workloadId && x.Number == attempt, ct);
            if (w is null || a is null || w.Attempt != attempt || !AttemptStates.IsLive(a.State))
            {
                LogStale(logger, workloadId, attempt, "submitted");
                return false;
            }

            a.ProcessesJson = JsonSerializer.Serialize(processes, JsonBody.Options);
            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = workloadId, At = server.Time.GetUtcNow(), Type = "Submitted", Message = $"attempt {attempt}: " + string.Join(", ", processes.Select(p => $"{p.Pod} job {p.Pid}")) });
            return true;
        }, ct);
    }

    public async Task<bool> StartedAsync(string workloadId, int attempt, IReadOnlyList<ProcessRecord> processes, CancellationToken ct)
    {
        return await RetryAsync(async db =>
        {
            var w = await db.Workloads.FirstOrDefaultAsync(x => x.Id == workloadId, ct);
            var a = await db.Attempts.FirstOrDefaultAsync(x => x.WorkloadId == workloadId && x.Number == attempt, ct);
            if (w is null || a is null || w.Attempt != attempt || !AttemptStates.IsLive(a.State) || w.State is not (WorkloadStates.Admitted or WorkloadStates.Running))
            {
                LogStale(logger, workloadId, attempt, "started");
                return false;
            }

            var now = server.Time.GetUtcNow();
            a.State = AttemptStates.Running;
            a.StartedAt ??= now;
            a.ProcessesJson = JsonSerializer.Serialize(processes, JsonBody.Options);
            w.State = WorkloadStates.Running;
            w.StartedAt ??= now;
            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = workloadId, At = now, Type = "Started", Message = $"attempt {attempt}: {processes.Count} process(es)" });
            return true;
        }, ct);
    }

    public async Task<bool> EndedAsync(string workloadId, int attempt, AttemptOutcome outcome, CancellationToken ct)
    {
        var accepted = await RetryAsync(async db =>
        {
            var w = await db.Workloads.FirstOrDefaultAsync(x => x.Id == workloadId, ct);
            var a = await db.Attempts.FirstOrDefaultAsync(x => x.WorkloadId == workloadId && x.Number == attempt, ct);
            if (w is null || a is null || w.Attempt != attempt || !AttemptStates.IsLive(a.State))
            {
                LogStale(logger, workloadId, attempt, "ended");
                return false;
            }

            var now = server.Time.GetUtcNow();
            var spec = JsonSerializer.Deserialize<JobSpec>(w.SpecJson, JsonBody.Options)!;
            a.EndedAt = now;
            a.ExitCode = outcome.ExitCode;
            a.Reason = outcome.Message;
            a.State = outcome.Kind switch
            {
                OutcomeKind.Exited when outcome.ExitCode == 0 => AttemptStates.Succeeded,
                OutcomeKind.Cancelled => AttemptStates.Cancelled,
                OutcomeKind.TimedOut => AttemptStates.TimedOut,
                OutcomeKind.Lost => AttemptStates.Lost,
                _ => AttemptStates.Failed,
            };
            await MeterAsync(db, w, spec, a, now, ct);

            string type;
            if (w.CancelRequested || outcome.Kind == OutcomeKind.Cancelled)
            {
                Finish(w, WorkloadStates.Cancelled, outcome.ExitCode, "cancelled" + (outcome.Message.Length > 0 ? ": " + outcome.Message : ""), now);
                type = "Cancelled";
            }
            else if (outcome.Kind == OutcomeKind.Exited && outcome.ExitCode == 0)
            {
                Finish(w, WorkloadStates.Succeeded, 0, "exit code 0", now);
                type = "Succeeded";
            }
            else if (outcome.Kind == OutcomeKind.Lost)
            {
                // Only attempts that started count against the job: one admitted but never launched
                // (the server stopped between the commit and the launch) says nothing about the job.
                var lost = await db.Attempts.CountAsync(x => x.WorkloadId == workloadId && x.State == AttemptStates.Lost && x.StartedAt != null, ct) + (a.StartedAt is null ? 0 : 1);
                if (lost <= MaxLostAttempts)
                {
                    Requeue(w, $"requeued: {outcome.Message}");
                    type = "Requeued";
                }
                else
                {
                    Finish(w, WorkloadStates.Failed, null, $"{outcome.Message}; lost {lost} attempts", now);
                    type = "Failed";
                }
            }
            else
            {
                w.Failures++;
                var what = outcome.Kind == OutcomeKind.TimedOut ? $"time limit of {spec.EffectiveTimeLimitSeconds} s exceeded" : outcome.Message;
                if (w.Failures <= spec.MaxRetries)
                {
                    Requeue(w, $"retry {w.Failures} of {spec.MaxRetries} after {what}");
                    type = "Retrying";
                }
                else
                {
                    Finish(w, WorkloadStates.Failed, outcome.ExitCode, what, now);
                    type = "Failed";
                }
            }

            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = workloadId, At = now, Type = type, Message = $"attempt {attempt}: {outcome.Kind} {outcome.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? ""} {outcome.Message}".Trim() });
            return true;
        }, ct);
        server.Signal.Wake();
        return accepted;
    }

    /// <summary>Cancels a workload: a pending one ends at once, a running one is stopped and ends when its processes do.</summary>
    public async Task<WorkloadRow?> CancelAsync(string workloadId, string by, CancellationToken ct)
    {
        (string Id, int Attempt)? stop = null;
        var row = await RetryAsync(async db =>
        {
            stop = null;
            var w = await db.Workloads.FirstOrDefaultAsync(x => x.Id == workloadId, ct);
            if (w is null || WorkloadStates.IsTerminal(w.State))
            {
                return w;
            }

            var now = server.Time.GetUtcNow();
            if (w.State == WorkloadStates.Pending)
            {
                Finish(w, WorkloadStates.Cancelled, null, $"cancelled by {by} before it started", now);
            }
            else
            {
                w.CancelRequested = true;
                w.Reason = $"cancelling: requested by {by}";
                stop = (w.Id, w.Attempt);
            }

            w.Version++;
            db.Events.Add(new EventRow { WorkloadId = workloadId, At = now, Type = "CancelRequested", Message = $"by {by}" });
            return w;
        }, ct, background: false);
        if (stop is { } s)
        {
            services.GetRequiredService<IWorkloadExecutor>().StopAttempt(s.Id, s.Attempt, "cancelled");
        }

        server.Signal.Wake();
        return row;
    }

    internal static void Requeue(WorkloadRow w, string reason)
    {
        w.State = WorkloadStates.Pending;
        w.Reason = reason;
        w.PlacementJson = null;
        w.AdmittedAt = null;
        w.StartedAt = null;
    }

    internal static void Finish(WorkloadRow w, string state, int? exitCode, string reason, DateTimeOffset now)
    {
        w.State = state;
        w.ExitCode = exitCode;
        w.Reason = reason;
        w.FinishedAt = now;
    }

    /// <summary>Records what an attempt used: accelerator milli-seconds per model, SCU and CPU milli-seconds.</summary>
    internal async Task MeterAsync(AiccDb db, WorkloadRow w, JobSpec spec, AttemptRow a, DateTimeOffset now, CancellationToken ct)
    {
        var from = a.StartedAt ?? a.AdmittedAt;
        var ms = Math.Max(0, (long)(now - from).TotalMilliseconds);
        if (ms == 0)
        {
            return;
        }

        var byModel = new Dictionary<string, (long Acc, long Scu)>(StringComparer.Ordinal);
        long cpu = 0;
        var nodes = await DevicesAsync(db, ct);
        foreach (var pod in PlacementDto.Read(a.PlacementJson))
        {
            var set = spec.PodSets?.FirstOrDefault(p => (p.Name ?? "main") == pod.PodSet) ?? spec.PodSets?.FirstOrDefault();
            cpu += (set?.CpuMilli ?? 0) * ms / 1000;
            foreach (var d in pod.Devices)
            {
                var model = nodes.GetValueOrDefault(pod.Node)?.FirstOrDefault(x => x.Index == d)?.Model ?? "unknown";
                var scu = server.Inventory.Catalog.TryGet(model, out var type) ? type.ScuMilli : 0;
                var acc = pod.MilliPerDevice * ms / 1000;
                var prev = byModel.GetValueOrDefault(model);
                byModel[model] = (prev.Acc + acc, prev.Scu + (acc * scu / 1000));
            }
        }

        if (byModel.Count == 0)
        {
            byModel[""] = (0, 0);
        }

        var first = true;
        foreach (var (model, (acc, scu)) in byModel)
        {
            db.Usage.Add(new UsageRow
            {
                TenantId = w.TenantId,
                WorkloadId = w.Id,
                Attempt = a.Number,
                Model = model,
                AcceleratorMilliSeconds = acc,
                ScuMilliSeconds = scu,
                CpuMilliSeconds = first ? cpu : 0,
                At = now,
            });
            first = false;
        }
    }

    /// <summary>The devices of every node, read again only when the configuration version changes.</summary>
    private async Task<Dictionary<string, List<Inventory.DeviceRecord>>> DevicesAsync(AiccDb db, CancellationToken ct)
    {
        var version = server.Signal.ConfigVersion;
        if (_devices is { } cached && cached.Version == version)
        {
            return cached.Devices;
        }

        var rows = await db.Nodes.AsNoTracking().ToListAsync(ct);
        var devices = rows.ToDictionary(n => n.Name, n => JsonSerializer.Deserialize<List<Inventory.DeviceRecord>>(n.DevicesJson, JsonBody.Options) ?? [], StringComparer.Ordinal);
        _devices = new DeviceMap(version, devices);
        return devices;
    }

    private async Task<T> RetryAsync<T>(Func<AiccDb, Task<T>> action, CancellationToken ct, bool background = true)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                return await writer.WriteAsync((db, _) => action(db), background, ct);
            }
            catch (DbUpdateConcurrencyException) when (i < 20)
            {
                await Task.Delay(5 * (i + 1), ct);
            }
        }
    }

    private sealed record DeviceMap(long Version, Dictionary<string, List<Inventory.DeviceRecord>> Devices);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Rejected a stale '{What}' report for workload {WorkloadId} attempt {Attempt}")]
    private static partial void LogStale(ILogger logger, string workloadId, int attempt, string what);
}
