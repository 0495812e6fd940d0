namespace Aicc.Simulation.Engine;

/// <summary>
/// The virtual clock's agenda: events ordered by time, ties by the order they were scheduled, so a replay
/// is deterministic. An event can be cancelled cheaply by bumping its owner's version (stale events are
/// dropped when they come up) instead of searching the heap.
/// </summary>
public sealed class Agenda<T>
{
    private readonly PriorityQueue<(T Item, int Version), (double Time, long Sequence)> _heap = new();
    private long _sequence;

    public int Count => _heap.Count;

    public void Schedule(double time, T item, int version = 0) => _heap.Enqueue((item, version), (time, _sequence++));

    public bool TryPeekTime(out double time)
    {
        if (_heap.TryPeek(out _, out var key))
        {
            time = key.Time;
            return true;
        }

        time = double.PositiveInfinity;
        return false;
    }

    /// <summary>Takes the next event if it is due at or before <paramref name="time"/>.</summary>
    public bool TryDequeueDue(double time, out T item, out int version)
    {
        if (_heap.TryPeek(out var head, out var key) && key.Time <= time)
        {
            _heap.Dequeue();
            (item, version) = head;
            return true;
        }

        item = default!;
        version = 0;
        return false;
    }
}

/// <summary>Seconds on the virtual clock as the instants the scheduling core takes.</summary>
public static class VirtualClock
{
    /// <summary>Time zero of every replay: an arbitrary fixed instant, so reports never depend on the wall clock.</summary>
    public static readonly DateTimeOffset Epoch = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset At(double seconds) => Epoch.AddTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    public static double Seconds(DateTimeOffset instant) => (instant - Epoch).Ticks / (double)TimeSpan.TicksPerSecond;
}
