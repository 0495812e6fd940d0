using System.Collections.Concurrent;

namespace Aicc.Server.Scheduling;

/// <summary>Why each pending workload waits and its place in its queue, as of the last cycle. Kept in
/// memory: rewriting every waiting row each cycle would cost a commit per workload per second.</summary>
public sealed class WaitingBoard
{
    private volatile IReadOnlyDictionary<string, (string Reason, int Position)> _current = new Dictionary<string, (string, int)>();

    public DateTimeOffset? LastCycleAt { get; private set; }

    public void Publish(IReadOnlyDictionary<string, (string Reason, int Position)> waiting, DateTimeOffset at)
    {
        _current = waiting;
        LastCycleAt = at;
    }

    public (string Reason, int Position)? Get(string workloadId) =>
        _current.TryGetValue(workloadId, out var w) ? w : null;
}

/// <summary>Counters for /metrics that are not in the database.</summary>
public sealed class ServerMetrics
{
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);

    public double LastCycleSeconds { get; set; }

    public double CycleSecondsSum { get; set; }

    public long Cycles { get; set; }

    public double AdmissionWaitSecondsSum { get; set; }

    public long Admissions { get; set; }

    public long AllocatedMilli { get; set; }

    public long TotalMilli { get; set; }

    public void Increment(string name, long by = 1) => _counters.AddOrUpdate(name, by, (_, v) => v + by);

    public IReadOnlyDictionary<string, long> Counters => _counters;
}
