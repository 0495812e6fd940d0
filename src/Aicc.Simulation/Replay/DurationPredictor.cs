namespace Aicc.Simulation.Replay;

/// <summary>
/// Predicts a job's duration from its submitter's history, as a scheduler in production can: only jobs
/// that have already completed count, never the job's own duration. The prediction is the geometric
/// mean of the last <see cref="Window"/> completed durations of the same tenant with the same GPU count,
/// falling back to the tenant's jobs of any size, then to every tenant's (job durations are heavy-tailed,
/// so a geometric mean is a steadier centre than the arithmetic one). Null until anything has completed.
/// </summary>
public sealed class DurationPredictor
{
    public const int Window = 16;
    private const int MinSamples = 3;

    private readonly Dictionary<(string Tenant, double Gpus), History> _bySize = [];
    private readonly Dictionary<string, History> _byTenant = new(StringComparer.Ordinal);
    private readonly History _all = new();

    public double? Predict(string tenant, double gpus)
    {
        if (_bySize.TryGetValue((tenant, gpus), out var h) && h.Count >= MinSamples)
        {
            return h.GeometricMean;
        }

        if (_byTenant.TryGetValue(tenant, out h) && h.Count >= MinSamples)
        {
            return h.GeometricMean;
        }

        return _all.Count >= 1 ? _all.GeometricMean : null;
    }

    public void Completed(string tenant, double gpus, double durationSeconds)
    {
        var log = Math.Log(Math.Max(1, durationSeconds));
        Get(_bySize, (tenant, gpus)).Add(log);
        Get(_byTenant, tenant).Add(log);
        _all.Add(log);
    }

    private static History Get<TKey>(Dictionary<TKey, History> map, TKey key)
        where TKey : notnull
    {
        if (!map.TryGetValue(key, out var h))
        {
            h = new History();
            map.Add(key, h);
        }

        return h;
    }

    /// <summary>A ring of the last <see cref="Window"/> log-durations with their running sum.</summary>
    private sealed class History
    {
        private readonly double[] _logs = new double[Window];
        private int _next;
        private double _sum;

        public int Count { get; private set; }

        public double GeometricMean => Math.Exp(_sum / Count);

        public void Add(double log)
        {
            if (Count == Window)
            {
                _sum -= _logs[_next];
            }
            else
            {
                Count++;
            }

            _logs[_next] = log;
            _sum += log;
            _next = (_next + 1) % Window;
        }
    }
}
