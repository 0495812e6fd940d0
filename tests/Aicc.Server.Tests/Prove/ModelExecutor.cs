using Aicc.Server.Execution;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// The executor of the R2 walk. It outlives server restarts, as job processes outlive a restarted
/// control plane: the walk decides when an attempt starts and ends, a stopped attempt's report arrives
/// when the walk delivers it, and while the server is down an attempt may end (told through
/// <see cref="OutcomeWhileAway"/>) or a launch may be lost (the server died between its commit and the launch).
/// </summary>
internal sealed class ModelExecutor : IWorkloadExecutor
{
    private readonly Dictionary<(string Id, int Attempt), Run> _runs = [];

    /// <summary>One attempt as the executor sees it.</summary>
    public sealed class Run(LaunchPlan plan, int sequence)
    {
        public LaunchPlan Plan { get; } = plan;

        /// <summary>1 for the first launch this executor got, and so on.</summary>
        public int Sequence { get; } = sequence;

        public bool Started { get; set; }

        /// <summary>Set by <see cref="StopAttempt"/>: the process is being stopped, its report is due.</summary>
        public string? StopReason { get; set; }

        /// <summary>Set while the server is down: how the attempt ended meanwhile.</summary>
        public AttemptOutcome? EndedWhileAway { get; set; }
    }

    public int Launches { get; private set; }

    public int Stops { get; private set; }

    public int RunningCount
    {
        get
        {
            lock (_runs)
            {
                return _runs.Count;
            }
        }
    }

    public void Launch(LaunchPlan plan)
    {
        lock (_runs)
        {
            Launches++;
            _runs[(plan.WorkloadId, plan.Attempt)] = new Run(plan, Launches);
        }
    }

    public void StopAttempt(string workloadId, int attempt, string reason)
    {
        lock (_runs)
        {
            Stops++;
            if (_runs.TryGetValue((workloadId, attempt), out var run))
            {
                run.StopReason ??= reason;
            }
        }
    }

    public List<Run> Snapshot()
    {
        lock (_runs)
        {
            // Launch order, not workload ids: ids are random, and the walk picks runs by position.
            return [.. _runs.Values.OrderBy(r => r.Sequence)];
        }
    }

    /// <summary>The attempt's process is gone and its report delivered (or lost with the server).</summary>
    public void Forget(Run run)
    {
        lock (_runs)
        {
            _runs.Remove((run.Plan.WorkloadId, run.Plan.Attempt));
        }
    }

    public bool Knows(string workloadId, int attempt)
    {
        lock (_runs)
        {
            return _runs.ContainsKey((workloadId, attempt));
        }
    }

    /// <summary>Adopts what still runs; every attempt that ended, was stopped or never arrived is gone.
    /// Processes of attempts the database no longer counts as live are ended, as the local executor does.</summary>
    public Task<IReadOnlyList<ActiveAttempt>> ReconcileAsync(IReadOnlyList<ActiveAttempt> active, CancellationToken ct)
    {
        lock (_runs)
        {
            var gone = new List<ActiveAttempt>();
            foreach (var a in active)
            {
                if (!_runs.TryGetValue((a.WorkloadId, a.Attempt), out var run) || run.EndedWhileAway is not null || run.StopReason is not null)
                {
                    gone.Add(a);
                }
            }

            var live = active.Select(a => (a.WorkloadId, a.Attempt)).ToHashSet();
            foreach (var key in _runs.Keys.Where(k => !live.Contains(k)).ToList())
            {
                _runs.Remove(key);
            }

            return Task.FromResult<IReadOnlyList<ActiveAttempt>>(gone);
        }
    }

    public AttemptOutcome? OutcomeWhileAway(ActiveAttempt attempt)
    {
        lock (_runs)
        {
            if (!_runs.Remove((attempt.WorkloadId, attempt.Attempt), out var run))
            {
                return null;
            }

            return run.EndedWhileAway ?? (run.StopReason is { } reason ? new AttemptOutcome(OutcomeKind.Cancelled, 143, "stopped: " + reason) : null);
        }
    }
}
