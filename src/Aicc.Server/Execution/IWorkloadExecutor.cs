using Aicc.Server.Api;

namespace Aicc.Server.Execution;

/// <summary>Everything an executor needs to run one attempt of a workload.</summary>
public sealed record LaunchPlan(
    string WorkloadId,
    string TenantId,
    string Queue,
    string Name,
    int Attempt,
    JobSpec Spec,
    IReadOnlyList<PlacementDto> Pods);

/// <summary>An attempt the database believes is live, handed to the executor at start-up.</summary>
public sealed record ActiveAttempt(string WorkloadId, int Attempt, int PodCount, IReadOnlyList<ProcessRecord> Processes, int TimeLimitSeconds, DateTimeOffset StartedAt);

/// <summary>A pod's process as recorded for the reconciler: pid plus kernel start time, so a reused pid is not mistaken for it.</summary>
public sealed record ProcessRecord(string Pod, int Pid, ulong StartTime);

public enum OutcomeKind
{
    Exited,
    Cancelled,
    TimedOut,
    StartFailed,

    /// <summary>The processes vanished without a status we could read (the server restarted under them).</summary>
    Lost,
}

public sealed record AttemptOutcome(OutcomeKind Kind, int? ExitCode, string Message);

/// <summary>
/// Runs admitted attempts. The scheduling loop commits a placement before it calls <see cref="Launch"/>;
/// the executor reports back through <see cref="WorkloadLifecycle"/>, which rejects reports of stale
/// attempts. Implementations: local child processes now; Slurm later, behind the same contract.
/// </summary>
public interface IWorkloadExecutor
{
    /// <summary>Starts the attempt in the background and returns at once.</summary>
    void Launch(LaunchPlan plan);

    /// <summary>Stops an attempt (cancel, preemption, drain): SIGTERM, then SIGKILL after the grace period.</summary>
    void StopAttempt(string workloadId, int attempt, string reason);

    /// <summary>
    /// At start-up: adopts the live attempts it can still see and ends every other process it started
    /// before. Returns the attempts that are gone, for the caller to settle.
    /// </summary>
    Task<IReadOnlyList<ActiveAttempt>> ReconcileAsync(IReadOnlyList<ActiveAttempt> active, CancellationToken ct);

    /// <summary>
    /// How an attempt that <see cref="ReconcileAsync"/> found gone ended while the server was down,
    /// when the executor recorded it; null when nobody knows (the attempt is then settled as lost).
    /// </summary>
    AttemptOutcome? OutcomeWhileAway(ActiveAttempt attempt) => null;

    /// <summary>How many attempts it is running now.</summary>
    int RunningCount { get; }
}
