namespace Aicc.Server.Scheduling;

/// <summary>Wakes the scheduling loop early (a submission, a finished job) and versions the configuration.</summary>
public sealed class SchedulerSignal : IDisposable
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private long _configVersion;

    /// <summary>Changes whenever nodes, queues or cohorts change; caches of the core's validator compare it.</summary>
    public long ConfigVersion => Interlocked.Read(ref _configVersion);

    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already awake; one pending wake-up is enough.
        }
    }

    public void Dispose() => _wake.Dispose();

    public void ConfigurationChanged()
    {
        Interlocked.Increment(ref _configVersion);
        Wake();
    }

    public Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct) =>
        _wake.WaitAsync(timeout, ct);
}
