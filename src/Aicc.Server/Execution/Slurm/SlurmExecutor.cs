using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Aicc.Server.Execution.Local;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Execution.Slurm;

/// <summary>
/// Runs admitted attempts as Slurm jobs through slurmrestd. Aicc stays the brain: its placement is
/// submitted pinned (see <see cref="SlurmSubmission"/>), the Slurm job id is recorded with the
/// attempt before anything else, and every job carries a marker with the installation, workload and
/// attempt, so a submit whose answer was lost, a job that outlived a restart, and an orphan are all
/// recognised. State is polled per job; Aicc enforces the time limit itself.
/// </summary>
public sealed partial class SlurmExecutor : IWorkloadExecutor, IDisposable
{
    private static readonly string[] PassedThrough = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH"];
    private readonly ConcurrentDictionary<string, Run> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, int), string> _stopsBeforeLaunch = new();
    private readonly ConcurrentDictionary<(string, int), AttemptOutcome> _outcomesWhileAway = new();
    private readonly ConcurrentDictionary<string, string> _addresses = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ServerContext _server;
    private readonly WorkloadLifecycle _lifecycle;
    private readonly InstallationId _installation;
    private readonly SlurmClient _slurm;
    private readonly ILogger<SlurmExecutor> _logger;
    private readonly IServiceScopeFactory _scopes;
    private int _sweeping;

    public SlurmExecutor(ServerContext server, WorkloadLifecycle lifecycle, InstallationId installation, SlurmClient slurm, IServiceScopeFactory scopes, ILogger<SlurmExecutor> logger)
    {
        _scopes = scopes;
        _server = server;
        _lifecycle = lifecycle;
        _installation = installation;
        _slurm = slurm;
        _logger = logger;
        foreach (var node in server.Inventory.SlurmAddresses)
        {
            _addresses[node.Key] = node.Value;
        }
    }

    private SlurmOptions Options => _server.Options.Slurm;

    public int RunningCount => _runs.Count;

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    public void Launch(LaunchPlan plan) => _ = LaunchAsync(plan);

    public void StopAttempt(string workloadId, int attempt, string reason)
    {
        if (_runs.TryGetValue(workloadId, out var run) && run.Attempt == attempt)
        {
            run.StopReason ??= reason;
        }
        else
        {
            _stopsBeforeLaunch[(workloadId, attempt)] = reason;
        }
    }

    public async Task<IReadOnlyList<ActiveAttempt>> ReconcileAsync(IReadOnlyList<ActiveAttempt> active, CancellationToken ct)
    {
        var jobs = await WithRetriesAsync(_slurm.JobsAsync, "list jobs", ct);
        var ours = Ours(jobs);
        var gone = new List<ActiveAttempt>();
        var keep = new HashSet<int>();
        foreach (var a in active)
        {
            var recorded = a.Processes.Select(p => p.Pid).FirstOrDefault(id => id > 0);
            var job = ours.GetValueOrDefault((a.WorkloadId, a.Attempt)) ?? (recorded > 0 ? jobs.FirstOrDefault(j => j.Id == recorded && j.IsLeader) : null);
            if (job is not null && !IsTerminal(job.State))
            {
                var run = new Run(a.WorkloadId, a.Attempt, a.StartedAt.AddSeconds(a.TimeLimitSeconds)) { JobId = job.Id, TimeLimitSeconds = a.TimeLimitSeconds, Started = job.State is "RUNNING" or "COMPLETING" && a.Processes.Count > 0 };
                _runs[a.WorkloadId] = run;
                keep.Add(job.Id);
                _ = MonitorAsync(run, new LaunchedAt(_server.Time.GetUtcNow(), FromRestart: true));
                LogAdopted(_logger, a.WorkloadId, a.Attempt, job.Id, job.State);
                continue;
            }

            if (job is not null)
            {
                keep.Add(job.Id);
                _outcomesWhileAway[(a.WorkloadId, a.Attempt)] = Outcome(job, stopReason: null) with { Message = $"ended in Slurm while the server was down ({job.State})" };
            }

            gone.Add(a);
        }

        foreach (var ((workload, attempt), job) in ours)
        {
            if (!keep.Contains(job.Id) && !IsTerminal(job.State))
            {
                await _slurm.SignalAsync(job.Id, null, ct);
                LogOrphan(_logger, job.Id, workload, attempt);
            }
        }

        await SyncNodesAsync(await WithRetriesAsync(_slurm.NodesAsync, "list nodes", ct), ct);
        _ = SweepLoopAsync();
        return gone;
    }

    public AttemptOutcome? OutcomeWhileAway(ActiveAttempt attempt)
    {
        if (_outcomesWhileAway.TryRemove((attempt.WorkloadId, attempt.Attempt), out var outcome))
        {
            return outcome;
        }

        // Slurm forgot the job (MinJobAge passed): the shim's exit files say how each pod ended.
        var dir = _server.Data.AttemptDirectory(attempt.WorkloadId, attempt.Attempt);
        var codes = Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*.exit").Select(LocalExecutor.RecordedExit).ToList() : [];
        if (attempt.PodCount == 0 || codes.Count != attempt.PodCount || codes.Any(c => c is null))
        {
            return null;
        }

        var code = codes.FirstOrDefault(c => c != 0) ?? 0;
        return new AttemptOutcome(OutcomeKind.Exited, code, code == 0 ? "ended while the server was down" : $"exit code {code} while the server was down");
    }

    private async Task LaunchAsync(LaunchPlan plan)
    {
        var run = new Run(plan.WorkloadId, plan.Attempt, DateTimeOffset.MaxValue) { TimeLimitSeconds = plan.Spec.EffectiveTimeLimitSeconds };
        try
        {
            if (_runs.TryGetValue(plan.WorkloadId, out var previous))
            {
                previous.StopReason ??= "superseded by a new attempt";
                await previous.Done.Task;
            }

            _runs[plan.WorkloadId] = run;
            if (_stopsBeforeLaunch.TryRemove((plan.WorkloadId, plan.Attempt), out var early))
            {
                await EndAsync(run, new AttemptOutcome(OutcomeKind.Cancelled, null, early));
                return;
            }

            var workDir = _server.Data.WorkDirectory(plan.WorkloadId);
            var attemptDir = _server.Data.AttemptDirectory(plan.WorkloadId, plan.Attempt);
            Directory.CreateDirectory(workDir);
            Directory.CreateDirectory(attemptDir);
            var marker = SlurmSubmission.Marker(_installation.Value, plan.WorkloadId, plan.Attempt);
            var first = plan.Pods.OrderBy(p => p.Rank).First().Node;
            var context = new SlurmSubmission.Context(
                marker,
                workDir,
                attemptDir,
                Options.Partition,
                PassedThrough.Where(n => Environment.GetEnvironmentVariable(n) is not null).ToDictionary(n => n, n => Environment.GetEnvironmentVariable(n)!, StringComparer.Ordinal),
                _addresses.GetValueOrDefault(first) ?? first,
                MasterPort(plan.WorkloadId, plan.Attempt));
            var submission = SlurmSubmission.Build(plan, context);
            var launched = _server.Time.GetUtcNow();
            var jobId = await SubmitOnceAsync(plan, submission, run);
            if (jobId is null)
            {
                return;
            }

            run.JobId = jobId;
            if (!await _lifecycle.SubmittedAsync(plan.WorkloadId, plan.Attempt, [new ProcessRecord("slurm", jobId.Value, 0)], CancellationToken.None))
            {
                run.StopReason ??= "the attempt is no longer current";
            }

            LogSubmitted(_logger, plan.WorkloadId, plan.Attempt, jobId.Value);
            await MonitorAsync(run, new LaunchedAt(launched, FromRestart: false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SlurmException)
        {
            LogLaunchFailed(_logger, plan.WorkloadId, plan.Attempt, e.Message);
            await EndAsync(run, new AttemptOutcome(OutcomeKind.StartFailed, null, "cannot submit to Slurm: " + e.Message));
        }
    }

    /// <summary>
    /// Submits, retrying transport failures; before each retry it looks for a job with the attempt's
    /// marker, so a submit whose answer was lost is not made twice. Null when it gave up (reported).
    /// </summary>
    private async Task<int?> SubmitOnceAsync(LaunchPlan plan, System.Text.Json.Nodes.JsonObject submission, Run run)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await _slurm.SubmitAsync(submission, _stopping.Token);
            }
            catch (SlurmException e) when (e.Transient && attempt < 5)
            {
                LogRetry(_logger, plan.WorkloadId, plan.Attempt, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), _server.Time, _stopping.Token);
                try
                {
                    var existing = Ours(await _slurm.JobsAsync(_stopping.Token)).GetValueOrDefault((plan.WorkloadId, plan.Attempt));
                    if (existing is not null)
                    {
                        return existing.Id;
                    }
                }
                catch (SlurmException again) when (again.Transient)
                {
                }
            }
            catch (SlurmException e)
            {
                await EndAsync(run, new AttemptOutcome(OutcomeKind.StartFailed, null, "Slurm refused the job: " + e.Message));
                return null;
            }
        }
    }

    private async Task MonitorAsync(Run run, LaunchedAt launched)
    {
        try
        {
            DateTimeOffset? killAt = null;
            string? stopReason = null;
            var timedOut = false;
            var warned = false;
            while (!_stopping.IsCancellationRequested)
            {
                var now = _server.Time.GetUtcNow();
                IReadOnlyList<SlurmJob> entries;
                try
                {
                    entries = await _slurm.JobAsync(run.JobId!.Value, _stopping.Token);
                    warned = false;
                }
                catch (SlurmException e)
                {
                    // slurmctld or slurmrestd away: the attempt stays as it is until Slurm answers again.
                    if (!warned)
                    {
                        LogPollFailed(_logger, run.WorkloadId, run.Attempt, e.Message);
                        warned = true;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(Math.Max(Options.PollSeconds, 1)), _server.Time, _stopping.Token);
                    continue;
                }

                var job = entries.FirstOrDefault(j => j.IsLeader) ?? (entries.Count > 0 ? entries[0] : null);
                if (job is null)
                {
                    await EndAsync(run, new AttemptOutcome(OutcomeKind.Lost, null, $"Slurm no longer knows job {run.JobId}"));
                    return;
                }

                if (IsTerminal(job.State))
                {
                    var outcome = timedOut
                        ? new AttemptOutcome(OutcomeKind.TimedOut, null, "time limit exceeded")
                        : Outcome(job, stopReason ?? run.StopReason);
                    await EndAsync(run, outcome);
                    return;
                }

                if (!run.Started && job.State is "RUNNING" or "COMPLETING")
                {
                    run.Started = true;
                    run.Deadline = now.AddSeconds(run.TimeLimitSeconds);
                    if (!await _lifecycle.StartedAsync(run.WorkloadId, run.Attempt, [new ProcessRecord("slurm", job.Id, 0)], CancellationToken.None))
                    {
                        run.StopReason ??= "the attempt is no longer current";
                    }

                    LogRunning(_logger, run.WorkloadId, run.Attempt, job.Id, job.Nodes, (now - launched.At).TotalMilliseconds);
                }

                if (killAt is null)
                {
                    // A held job (e.g. "launch failed requeued held") never starts by itself.
                    var held = !run.Started && job.State == "PENDING" && job.StateReason.Contains("held", StringComparison.OrdinalIgnoreCase);
                    var pendingTooLong = held || (!run.Started && !launched.FromRestart && now - launched.At > TimeSpan.FromSeconds(Options.StartTimeoutSeconds));
                    if (run.StopReason is { } reason)
                    {
                        stopReason = reason;
                    }
                    else if (run.Started && now >= run.Deadline)
                    {
                        timedOut = true;
                    }
                    else if (pendingTooLong)
                    {
                        await _slurm.SignalAsync(job.Id, null, _stopping.Token);
                        await EndAsync(run, new AttemptOutcome(OutcomeKind.StartFailed, null, held ? $"Slurm holds job {job.Id} ({job.StateReason}); check the nodes in sinfo" : $"Slurm kept job {job.Id} pending for over {Options.StartTimeoutSeconds} s ({job.StateReason}); check the nodes in sinfo"));
                        return;
                    }

                    if (stopReason is not null || timedOut)
                    {
                        // A pending job has nothing to stop gracefully; a running one gets SIGTERM first.
                        await _slurm.SignalAsync(job.Id, run.Started ? "SIGTERM" : null, _stopping.Token);
                        killAt = now.AddSeconds(_server.Options.KillGraceSeconds);
                    }
                }
                else if (now >= killAt)
                {
                    await _slurm.SignalAsync(job.Id, null, _stopping.Token);
                    killAt = now.AddSeconds(Math.Max(5, _server.Options.KillGraceSeconds));
                }

                await Task.Delay(TimeSpan.FromSeconds(Options.PollSeconds), _server.Time, _stopping.Token);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // The server is stopping: the job keeps running in Slurm and is adopted at the next start.
        }
        finally
        {
            _runs.TryRemove(new KeyValuePair<string, Run>(run.WorkloadId, run));
            run.Done.TrySetResult();
        }
    }

    private async Task EndAsync(Run run, AttemptOutcome outcome)
    {
        _runs.TryRemove(new KeyValuePair<string, Run>(run.WorkloadId, run));
        run.Done.TrySetResult();
        await _lifecycle.EndedAsync(run.WorkloadId, run.Attempt, outcome, CancellationToken.None);
    }

    /// <summary>Every so often, cancels live jobs with this installation's marker that no attempt owns (left by a crash mid-submit).</summary>
    private async Task SweepLoopAsync()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        var seen = new Dictionary<int, int>();
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Options.SweepSeconds), _server.Time, _stopping.Token);
                await SyncNodesAsync(await _slurm.NodesAsync(_stopping.Token), _stopping.Token);
                foreach (var ((workload, attempt), job) in Ours(await _slurm.JobsAsync(_stopping.Token)))
                {
                    var owned = _runs.TryGetValue(workload, out var run) && run.Attempt == attempt;
                    if (owned || IsTerminal(job.State))
                    {
                        seen.Remove(job.Id);
                        continue;
                    }

                    // Twice in a row, so a submit whose id is not yet recorded is never taken for an orphan.
                    seen[job.Id] = seen.GetValueOrDefault(job.Id) + 1;
                    if (seen[job.Id] >= 2)
                    {
                        await _slurm.SignalAsync(job.Id, null, _stopping.Token);
                        seen.Remove(job.Id);
                        LogOrphan(_logger, job.Id, workload, attempt);
                    }
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SlurmException or DbUpdateException)
            {
                LogSweepFailed(_logger, e.Message);
            }
        }
    }

    /// <summary>The label by which Aicc remembers that it cordoned a node because Slurm would not use it.</summary>
    public const string CordonLabel = "aicc.slurm/unavailable";

    /// <summary>
    /// Cordons the nodes Slurm will not start work on (down, drained, not responding) and uncordons
    /// them when Slurm uses them again; a cordon an operator set is never lifted here.
    /// </summary>
    internal async Task SyncNodesAsync(IReadOnlyList<SlurmNode> nodes, CancellationToken ct)
    {
        var bySlurm = nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        using var scope = _scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
        var changed = false;
        foreach (var row in await db.Nodes.Where(n => n.Source == "slurm").ToListAsync(ct))
        {
            var labels = JsonSerializer.Deserialize<Dictionary<string, string>>(row.LabelsJson) ?? [];
            var ours = labels.ContainsKey(CordonLabel);
            var slurm = bySlurm.GetValueOrDefault(row.Name);
            var unavailable = slurm is null || slurm.Unavailable;
            if (unavailable && !row.Cordoned)
            {
                row.Cordoned = true;
                labels[CordonLabel] = slurm is null ? "missing" : string.Join('+', [slurm.State, .. slurm.Flags ?? []]).ToLowerInvariant();
                LogNodeCordoned(_logger, row.Name, labels[CordonLabel]);
            }
            else if (!unavailable && row.Cordoned && ours)
            {
                row.Cordoned = false;
                row.Draining = false;
                labels.Remove(CordonLabel);
                LogNodeUncordoned(_logger, row.Name);
            }
            else
            {
                continue;
            }

            row.LabelsJson = JsonSerializer.Serialize(labels);
            row.Version++;
            changed = true;
        }

        if (changed)
        {
            await db.SaveChangesAsync(ct);
            _server.Signal.ConfigurationChanged();
        }
    }

    private Dictionary<(string, int), SlurmJob> Ours(IReadOnlyList<SlurmJob> jobs)
    {
        var result = new Dictionary<(string, int), SlurmJob>();
        foreach (var job in jobs.Where(j => j.IsLeader))
        {
            if (SlurmSubmission.ParseMarker(_installation.Value, job.Comment) is { } key)
            {
                // The newest job wins if a marker was ever submitted twice.
                if (!result.TryGetValue(key, out var other) || other.Id < job.Id)
                {
                    result[key] = job;
                }
            }
        }

        return result;
    }

    private async Task<T> WithRetriesAsync<T>(Func<CancellationToken, Task<T>> call, string what, CancellationToken ct)
    {
        for (var i = 1; ; i++)
        {
            try
            {
                return await call(ct);
            }
            catch (SlurmException e) when (e.Transient && i < 10)
            {
                LogRetry(_logger, what, 0, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _server.Time, ct);
            }
        }
    }

    internal static bool IsTerminal(string state) => state is "COMPLETED" or "FAILED" or "CANCELLED" or "TIMEOUT" or "NODE_FAIL" or "BOOT_FAIL" or "PREEMPTED" or "DEADLINE" or "OUT_OF_MEMORY";

    /// <summary>How a finished Slurm job maps to an attempt's outcome.</summary>
    internal static AttemptOutcome Outcome(SlurmJob job, string? stopReason)
    {
        if (stopReason is not null)
        {
            return new(OutcomeKind.Cancelled, job.ExitCode == 0 ? null : job.ExitCode, stopReason);
        }

        return job.State switch
        {
            "COMPLETED" or "FAILED" => new(OutcomeKind.Exited, job.ExitCode, job.ExitCode == 0 ? "" : $"exit code {job.ExitCode}"),
            "TIMEOUT" or "DEADLINE" => new(OutcomeKind.TimedOut, null, $"Slurm ended job {job.Id}: {job.State}"),
            "CANCELLED" => new(OutcomeKind.Cancelled, null, $"job {job.Id} was cancelled in Slurm"),
            "OUT_OF_MEMORY" => new(OutcomeKind.Exited, job.ExitCode == 0 ? 137 : job.ExitCode, "out of memory (Slurm)"),
            _ => new(OutcomeKind.Lost, null, $"Slurm ended job {job.Id}: {job.State} ({job.StateReason})"),
        };
    }

    /// <summary>A port for the rendezvous of rank 0, fixed per attempt so a restart adopts the same one.</summary>
    internal static int MasterPort(string workloadId, int attempt)
    {
        var h = 17;
        foreach (var c in workloadId)
        {
            h = unchecked((h * 31) + c);
        }

        return 29500 + (int)((uint)unchecked((h * 31) + attempt) % 10_000);
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Submitted workload {WorkloadId} attempt {Attempt} as Slurm job {JobId}")]
    private static partial void LogSubmitted(ILogger logger, string workloadId, int attempt, int jobId);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Information, Message = "Workload {WorkloadId} attempt {Attempt}: Slurm job {JobId} running on {Nodes}, {Milliseconds} ms after submission")]
    private static partial void LogRunning(ILogger logger, string workloadId, int attempt, int jobId, string nodes, double milliseconds);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Adopted workload {WorkloadId} attempt {Attempt}: Slurm job {JobId} is {State}")]
    private static partial void LogAdopted(ILogger logger, string workloadId, int attempt, int jobId, string state);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Warning, Message = "Cancelled Slurm job {JobId} of workload {WorkloadId} attempt {Attempt}: no live attempt owns it")]
    private static partial void LogOrphan(ILogger logger, int jobId, string workloadId, int attempt);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Error, Message = "Could not submit workload {WorkloadId} attempt {Attempt} to Slurm: {Error}")]
    private static partial void LogLaunchFailed(ILogger logger, string workloadId, int attempt, string error);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Warning, Message = "Retrying {What} ({Attempt}) after a transient Slurm error: {Error}")]
    private static partial void LogRetry(ILogger logger, string what, int attempt, string error);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Warning, Message = "Cannot poll workload {WorkloadId} attempt {Attempt} in Slurm, will keep trying: {Error}")]
    private static partial void LogPollFailed(ILogger logger, string workloadId, int attempt, string error);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Warning, Message = "The Slurm sweep (orphans, node states) failed, will try again: {Error}")]
    private static partial void LogSweepFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 3109, Level = LogLevel.Warning, Message = "Cordoned node {Node}: Slurm reports it {State}")]
    private static partial void LogNodeCordoned(ILogger logger, string node, string state);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Information, Message = "Uncordoned node {Node}: Slurm uses it again")]
    private static partial void LogNodeUncordoned(ILogger logger, string node);

    private sealed record LaunchedAt(DateTimeOffset At, bool FromRestart);

    private sealed class Run(string workloadId, int attempt, DateTimeOffset deadline)
    {
        public string WorkloadId { get; } = workloadId;

        public int Attempt { get; } = attempt;

        public int? JobId { get; set; }

        public bool Started { get; set; }

        public DateTimeOffset Deadline { get; set; } = deadline;

        public int TimeLimitSeconds { get; set; }

        private volatile string? _stopReason;

        public string? StopReason
        {
            get => _stopReason;
            set => _stopReason = value;
        }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
