using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Aicc.Server.Api;
using Aicc.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Execution.Local;

/// <summary>
/// Runs each pod as a child process on this host: an argument vector, a new session per pod, output
/// straight to files, torchrun variables, a time limit, SIGTERM to the group then SIGKILL. At most one
/// attempt of a workload is alive: a new attempt waits until the previous one's processes are gone.
/// </summary>
public sealed partial class LocalExecutor(ServerContext server, WorkloadLifecycle lifecycle, InstallationId installation, ILogger<LocalExecutor> logger) : IWorkloadExecutor
{
    /// <summary>
    /// The one fixed script every pod runs under (never built from input): it runs the pod's argument
    /// vector exactly as given through "$@", then writes the exit status to $AICC_EXIT_FILE. A server
    /// restarted while the pod ran is not its parent and cannot wait for it; the file tells it how the
    /// pod ended. The TERM/INT trap only defers the shell's own exit until the program has ended.
    /// </summary>
    internal const string Shim =
        "trap : TERM INT; \"$@\"; code=$?; printf '%s\\n' \"$code\" > \"$AICC_EXIT_FILE.tmp\" && mv -f \"$AICC_EXIT_FILE.tmp\" \"$AICC_EXIT_FILE\"; exit $code";

    private const string Shell = "/bin/sh";
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<string, Run> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, int), string> _stopsBeforeLaunch = new();

    public int RunningCount => _runs.Count;

    public void Launch(LaunchPlan plan) => _ = LaunchAsync(plan);

    public void StopAttempt(string workloadId, int attempt, string reason)
    {
        if (_runs.TryGetValue(workloadId, out var run) && run.Attempt == attempt)
        {
            run.RequestStop(reason, server.Time.GetUtcNow());
        }
        else
        {
            _stopsBeforeLaunch[(workloadId, attempt)] = reason;
        }
    }

    public Task<IReadOnlyList<ActiveAttempt>> ReconcileAsync(IReadOnlyList<ActiveAttempt> active, CancellationToken ct)
    {
        var prefix = installation.Value + ":";
        var live = new Dictionary<string, List<(int Pid, ulong Start, bool Leader)>>(StringComparer.Ordinal);
        foreach (var pid in ProcFs.Pids())
        {
            if (ProcFs.Marker(pid) is { } marker && marker.StartsWith(prefix, StringComparison.Ordinal) && ProcFs.Stat(pid) is { } stat && stat.State != 'Z')
            {
                var key = marker[prefix.Length..];
                if (!live.TryGetValue(key, out var list))
                {
                    live[key] = list = [];
                }

                list.Add((pid, stat.StartTime, stat.Group == pid));
            }
        }

        var gone = new List<ActiveAttempt>();
        var adopted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in active)
        {
            var key = $"{a.WorkloadId}:{a.Attempt}";
            var leaders = live.GetValueOrDefault(key)?.Where(p => p.Leader).ToList() ?? [];
            if (leaders.Count == a.PodCount && a.PodCount > 0)
            {
                var pods = leaders.Select((p, i) => new Pod($"adopted-{i}", p.Pid, p.Start, Adopted: true, ProcFs.Variable(p.Pid, ProcFs.ExitFileVariable))).ToList();
                var run = new Run(a.WorkloadId, a.Attempt, pods, a.StartedAt.AddSeconds(a.TimeLimitSeconds));
                _runs[a.WorkloadId] = run;
                _ = MonitorAsync(run);
                adopted.Add(key);
                LogAdopted(logger, a.WorkloadId, a.Attempt, pods.Count);
            }
            else
            {
                gone.Add(a);
            }
        }

        foreach (var (key, processes) in live)
        {
            if (!adopted.Contains(key))
            {
                foreach (var p in processes)
                {
                    Posix.SignalGroup(p.Pid, Posix.SigKill);
                }

                LogEnded(logger, key, processes.Count);
            }
        }

        return Task.FromResult<IReadOnlyList<ActiveAttempt>>(gone);
    }

    public AttemptOutcome? OutcomeWhileAway(ActiveAttempt attempt)
    {
        var dir = server.Data.AttemptDirectory(attempt.WorkloadId, attempt.Attempt);
        if (attempt.PodCount == 0 || !Directory.Exists(dir))
        {
            return null;
        }

        var codes = Directory.EnumerateFiles(dir, "*.exit").Select(RecordedExit).ToList();
        if (codes.Count != attempt.PodCount || codes.Any(c => c is null))
        {
            return null;
        }

        var code = codes.FirstOrDefault(c => c != 0) ?? 0;
        return new AttemptOutcome(OutcomeKind.Exited, code, code == 0 ? "ended while the server was down" : $"exit code {code} while the server was down");
    }

    private async Task LaunchAsync(LaunchPlan plan)
    {
        try
        {
            if (_runs.TryGetValue(plan.WorkloadId, out var previous))
            {
                previous.RequestStop("superseded by a new attempt", server.Time.GetUtcNow());
                await previous.Done.Task;
            }

            if (_stopsBeforeLaunch.TryRemove((plan.WorkloadId, plan.Attempt), out var reason))
            {
                await lifecycle.EndedAsync(plan.WorkloadId, plan.Attempt, new AttemptOutcome(OutcomeKind.Cancelled, null, reason), CancellationToken.None);
                return;
            }

            var workDir = server.Data.WorkDirectory(plan.WorkloadId);
            Directory.CreateDirectory(workDir);
            Directory.CreateDirectory(server.Data.AttemptDirectory(plan.WorkloadId, plan.Attempt));
            var masterPort = FreePort();
            var nodes = plan.Pods.Select(p => p.Node).Distinct(StringComparer.Ordinal).ToList();
            var pods = new List<Pod>();
            var attemptDir = server.Data.AttemptDirectory(plan.WorkloadId, plan.Attempt);
            foreach (var pod in plan.Pods.OrderBy(p => p.Rank))
            {
                var exitFile = Path.Combine(attemptDir, $"{pod.PodSet}-{pod.Index}.exit");
                var env = Environment(plan, pod, nodes, masterPort, workDir, exitFile);
                var argv = ShimArgv(plan.Spec.Command!, env, workDir);
                var pid = argv is null ? -2 : Posix.Spawn(
                    argv,
                    env,
                    workDir,
                    server.Data.LogPath(plan.WorkloadId, plan.Attempt, pod.PodSet, pod.Index, stderr: false),
                    server.Data.LogPath(plan.WorkloadId, plan.Attempt, pod.PodSet, pod.Index, stderr: true));
                if (pid <= 0)
                {
                    foreach (var started in pods)
                    {
                        Posix.SignalGroup(started.Pid, Posix.SigKill);
                        Posix.TryReap(started.Pid, out _);
                    }

                    var message = pid == -2 ? $"cannot start: program '{plan.Spec.Command![0]}' not found" : $"cannot start '{plan.Spec.Command![0]}': error {-pid}";
                    await lifecycle.EndedAsync(plan.WorkloadId, plan.Attempt, new AttemptOutcome(OutcomeKind.StartFailed, 127, message), CancellationToken.None);
                    return;
                }

                pods.Add(new Pod($"{pod.PodSet}-{pod.Index}", pid, ProcFs.Stat(pid)?.StartTime ?? 0, Adopted: false, exitFile));
            }

            var run = new Run(plan.WorkloadId, plan.Attempt, pods, server.Time.GetUtcNow().AddSeconds(plan.Spec.EffectiveTimeLimitSeconds));
            _runs[plan.WorkloadId] = run;
            var monitor = MonitorAsync(run);
            if (!await lifecycle.StartedAsync(plan.WorkloadId, plan.Attempt, [.. pods.Select(p => new ProcessRecord(p.Name, p.Pid, p.StartTime))], CancellationToken.None))
            {
                run.RequestStop("the attempt is no longer current", server.Time.GetUtcNow());
            }

            await monitor;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            LogLaunchFailed(logger, plan.WorkloadId, plan.Attempt, e.Message);
            await lifecycle.EndedAsync(plan.WorkloadId, plan.Attempt, new AttemptOutcome(OutcomeKind.StartFailed, null, "cannot start: " + e.Message), CancellationToken.None);
        }
    }

    /// <summary>
    /// The shim's argument vector around the pod's own, with the program resolved first (in the work
    /// directory when it names a path, else on the pod's PATH) so a missing program is reported as
    /// such and a name like "exit" can never reach the shell as a builtin. Null when not found.
    /// </summary>
    internal static List<string>? ShimArgv(IReadOnlyList<string> command, IReadOnlyList<string> env, string workDir)
    {
        var program = command[0];
        string? resolved = null;
        if (program.Contains('/', StringComparison.Ordinal))
        {
            resolved = IsExecutable(Path.Combine(workDir, program)) ? program : null;
        }
        else
        {
            var path = env.FirstOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?["PATH=".Length..] ?? "/usr/local/bin:/usr/bin:/bin";
            resolved = path.Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(Path.IsPathRooted(dir) ? dir : Path.Combine(workDir, dir), program))
                .FirstOrDefault(IsExecutable);
        }

        if (resolved is null)
        {
            return null;
        }

        if (!File.Exists(Shell))
        {
            return [resolved, .. command.Skip(1)];
        }

        return [Shell, "-c", Shim, "aicc-pod", resolved, .. command.Skip(1)];
    }

    private static bool IsExecutable(string path) =>
        File.Exists(path) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

    /// <summary>The status the shim recorded, or null when it wrote none (killed, or never started).</summary>
    internal static int? RecordedExit(string? exitFile)
    {
        try
        {
            return exitFile is not null && File.Exists(exitFile) && int.TryParse(File.ReadAllText(exitFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private List<string> Environment(LaunchPlan plan, PlacementDto pod, List<string> nodes, int masterPort, string workDir, string exitFile)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH" })
        {
            if (System.Environment.GetEnvironmentVariable(name) is { } value)
            {
                env[name] = value;
            }
        }

        env["PYTHONUNBUFFERED"] = "1";
        foreach (var (k, v) in plan.Spec.Env ?? [])
        {
            env[k] = v;
        }

        var sameNode = plan.Pods.Where(p => p.Node == pod.Node).OrderBy(p => p.Rank).ToList();
        var inv = CultureInfo.InvariantCulture;
        env["CUDA_VISIBLE_DEVICES"] = string.Join(',', pod.Devices.Select(d => d.ToString(inv)));
        env["AICC_JOB_ID"] = plan.WorkloadId;
        env["AICC_JOB_NAME"] = plan.Name;
        env["AICC_TENANT"] = plan.TenantId;
        env["AICC_QUEUE"] = plan.Queue;
        env["AICC_ATTEMPT"] = plan.Attempt.ToString(inv);
        env["AICC_POD_SET"] = pod.PodSet;
        env["AICC_POD_INDEX"] = pod.Index.ToString(inv);
        env["AICC_NODE"] = pod.Node;
        env["AICC_ACCELERATOR_MILLI"] = pod.Devices.Count == 0 ? "0" : pod.MilliPerDevice.ToString(inv);
        env["AICC_WORK_DIR"] = workDir;
        env[ProcFs.MarkerVariable] = $"{installation.Value}:{plan.WorkloadId}:{plan.Attempt}";
        env[ProcFs.ExitFileVariable] = exitFile;
        env["RANK"] = pod.Rank.ToString(inv);
        env["WORLD_SIZE"] = plan.Pods.Count.ToString(inv);
        env["LOCAL_RANK"] = sameNode.FindIndex(p => p.Rank == pod.Rank).ToString(inv);
        env["LOCAL_WORLD_SIZE"] = sameNode.Count.ToString(inv);
        env["NODE_RANK"] = nodes.IndexOf(pod.Node).ToString(inv);
        env["MASTER_ADDR"] = "127.0.0.1";
        env["MASTER_PORT"] = masterPort.ToString(inv);
        return [.. env.Select(kv => $"{kv.Key}={kv.Value}")];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task MonitorAsync(Run run)
    {
        try
        {
            var exits = new int?[run.Pods.Count];
            DateTimeOffset? killAt = null;
            string? stopReason = null;
            var timedOut = false;
            while (true)
            {
                var now = server.Time.GetUtcNow();
                for (var i = 0; i < run.Pods.Count; i++)
                {
                    if (exits[i] is not null)
                    {
                        continue;
                    }

                    var pod = run.Pods[i];
                    if (pod.Adopted)
                    {
                        if (!ProcFs.IsAlive(pod.Pid, pod.StartTime))
                        {
                            exits[i] = RecordedExit(pod.ExitFile) ?? -1;
                        }
                    }
                    else if (Posix.TryReap(pod.Pid, out var notChild) is { } code)
                    {
                        exits[i] = code;
                    }
                    else if (notChild)
                    {
                        exits[i] = -1;
                    }
                }

                if (exits.All(e => e is not null))
                {
                    break;
                }

                if (killAt is null)
                {
                    var failed = exits.Any(e => e is not null and not 0);
                    if (run.StopReason is { } reason)
                    {
                        stopReason = reason;
                    }
                    else if (now >= run.Deadline)
                    {
                        timedOut = true;
                    }

                    if (stopReason is not null || timedOut || failed)
                    {
                        for (var i = 0; i < run.Pods.Count; i++)
                        {
                            if (exits[i] is null)
                            {
                                Posix.SignalGroup(run.Pods[i].Pid, Posix.SigTerm);
                            }
                        }

                        killAt = now.AddSeconds(server.Options.KillGraceSeconds);
                    }
                }
                else if (now >= killAt)
                {
                    for (var i = 0; i < run.Pods.Count; i++)
                    {
                        if (exits[i] is null)
                        {
                            Posix.SignalGroup(run.Pods[i].Pid, Posix.SigKill);
                        }
                    }
                }

                await Task.Delay(Poll, server.Time);
            }

            // Children a pod left behind in its group go with it.
            foreach (var pod in run.Pods)
            {
                Posix.SignalGroup(pod.Pid, Posix.SigKill);
            }

            AttemptOutcome outcome;
            if (stopReason is not null)
            {
                outcome = new(OutcomeKind.Cancelled, FirstFailure(exits), stopReason);
            }
            else if (timedOut)
            {
                outcome = new(OutcomeKind.TimedOut, FirstFailure(exits), "time limit exceeded");
            }
            else if (exits.Any(e => e == -1))
            {
                outcome = new(OutcomeKind.Lost, null, "exit status unknown: the server restarted while the attempt ran");
            }
            else
            {
                var code = FirstFailure(exits) ?? 0;
                outcome = new(OutcomeKind.Exited, code, code == 0 ? "" : $"exit code {code}");
            }

            _runs.TryRemove(new KeyValuePair<string, Run>(run.WorkloadId, run));
            await lifecycle.EndedAsync(run.WorkloadId, run.Attempt, outcome, CancellationToken.None);
        }
        finally
        {
            _runs.TryRemove(new KeyValuePair<string, Run>(run.WorkloadId, run));
            run.Done.TrySetResult();
        }
    }

    private static int? FirstFailure(int?[] exits) => exits.FirstOrDefault(e => e is not null and not 0 and not -1);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Adopted workload {WorkloadId} attempt {Attempt}: {Pods} live pod(s) from before the restart")]
    private static partial void LogAdopted(ILogger logger, string workloadId, int attempt, int pods);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Ended {Count} orphaned process(es) of attempt {Key}: it is no longer current")]
    private static partial void LogEnded(ILogger logger, string key, int count);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Could not launch workload {WorkloadId} attempt {Attempt}: {Error}")]
    private static partial void LogLaunchFailed(ILogger logger, string workloadId, int attempt, string error);

    private sealed record Pod(string Name, int Pid, ulong StartTime, bool Adopted, string? ExitFile);

    private sealed class Run(string workloadId, int attempt, List<Pod> pods, DateTimeOffset deadline)
    {
        public string WorkloadId { get; } = workloadId;

        public int Attempt { get; } = attempt;

        public List<Pod> Pods { get; } = pods;

        public DateTimeOffset Deadline { get; } = deadline;

        public volatile string? StopReasonField;

        public string? StopReason => StopReasonField;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void RequestStop(string reason, DateTimeOffset at) => StopReasonField ??= reason;
    }
}

/// <summary>A random id of this data directory; the marker of its processes, so two servers never end each other's jobs.</summary>
public sealed record InstallationId(string Value);

/// <summary>Marks attempts started and leaves them running until stopped; for tests and API benchmarks.</summary>
public sealed class NoopExecutor(WorkloadLifecycle lifecycle, bool finishAtOnce) : IWorkloadExecutor
{
    private readonly ConcurrentDictionary<string, int> _running = new(StringComparer.Ordinal);

    public int RunningCount => _running.Count;

    public void Launch(LaunchPlan plan) => _ = LaunchAsync(plan);

    public void StopAttempt(string workloadId, int attempt, string reason)
    {
        if (_running.TryRemove(new KeyValuePair<string, int>(workloadId, attempt)))
        {
            _ = lifecycle.EndedAsync(workloadId, attempt, new AttemptOutcome(OutcomeKind.Cancelled, null, reason), CancellationToken.None);
        }
    }

    public Task<IReadOnlyList<ActiveAttempt>> ReconcileAsync(IReadOnlyList<ActiveAttempt> active, CancellationToken ct) =>
        Task.FromResult(active);

    private async Task LaunchAsync(LaunchPlan plan)
    {
        _running[plan.WorkloadId] = plan.Attempt;
        await lifecycle.StartedAsync(plan.WorkloadId, plan.Attempt, [], CancellationToken.None);
        if (finishAtOnce && _running.TryRemove(new KeyValuePair<string, int>(plan.WorkloadId, plan.Attempt)))
        {
            await lifecycle.EndedAsync(plan.WorkloadId, plan.Attempt, new AttemptOutcome(OutcomeKind.Exited, 0, ""), CancellationToken.None);
        }
    }
}
