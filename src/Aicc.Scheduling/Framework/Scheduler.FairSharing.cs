using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Framework;

/// <summary>
/// Fair sharing across queues (Dominant Resource Fairness, Ghodsi et al., NSDI'11, with usage that
/// decays like Slurm's fair-share factor): each queue's usage is an exponential moving average of what it
/// holds, with the policy's half-life; its share is the largest ratio of that usage to its entitlement
/// (nominal quota, or the cluster's capacity where it has none), divided by its fair weight. The queue
/// with the smallest share goes first. Admissions within a cycle count at once.
/// </summary>
public sealed partial class Scheduler
{
    private long[]? _capacity;
    private double[][]? _cycleAdded;

    private void UpdateFairUsage(DateTimeOffset now)
    {
        var halfLife = Policy.FairSharing.HalfLifeSeconds;
        var keep = 0.0;
        if (_lastFairUpdate is { } last && halfLife > 0)
        {
            var dt = Math.Max(0, (now - last).TotalSeconds);
            keep = Math.Pow(2, -dt / halfLife);
        }

        _lastFairUpdate = now;
        _cycleAdded ??= [.. _fairUsage.Select(_ => new double[ResourceNames.Count])];
        for (var q = 0; q < _fairUsage.Length; q++)
        {
            Array.Clear(_cycleAdded[q]);
            var usage = _fairUsage[q];
            for (var r = 0; r < ResourceNames.Count; r++)
            {
                usage[r] = usage[r] * keep + Quotas.UsageAt(q, r) * (1 - keep);
            }
        }
    }

    private void NoteFairUsage(WorkloadState workload)
    {
        var added = _cycleAdded![workload.QueueIndex];
        for (var r = 0; r < ResourceNames.Count; r++)
        {
            added[r] += workload.Charged[r];
        }
    }

    /// <summary>
    /// The decayed usage of every queue and cohort, by name and resource name, and when it was last
    /// decayed. A host that rebuilds the scheduler (the server does, every cycle) carries this over with
    /// <see cref="RestoreFairUsage"/> so fair share remembers history, as the half-life intends.
    /// </summary>
    public FairUsageSnapshot SaveFairUsage()
    {
        var usage = new Dictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        for (var q = 0; q < _fairUsage.Length; q++)
        {
            var byResource = new Dictionary<string, double>(StringComparer.Ordinal);
            for (var r = 0; r < ResourceNames.Count; r++)
            {
                if (_fairUsage[q][r] > 0)
                {
                    byResource[ResourceNames.NameOf(r, Catalog)] = _fairUsage[q][r];
                }
            }

            if (byResource.Count > 0)
            {
                usage[Quotas.NameAt(q)] = byResource;
            }
        }

        return new FairUsageSnapshot(_lastFairUpdate, usage);
    }

    /// <summary>Takes over usage saved from an earlier scheduler; names it no longer has are dropped.</summary>
    public void RestoreFairUsage(FairUsageSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _lastFairUpdate = snapshot.At;
        for (var q = 0; q < _fairUsage.Length; q++)
        {
            Array.Clear(_fairUsage[q]);
            if (!snapshot.Usage.TryGetValue(Quotas.NameAt(q), out var byResource))
            {
                continue;
            }

            foreach (var (name, value) in byResource)
            {
                var r = ResourceNames.IndexOf(name, Catalog);
                if (r >= 0 && double.IsFinite(value) && value > 0)
                {
                    _fairUsage[q][r] = value;
                }
            }
        }
    }

    /// <summary>The queue's dominant share of its entitlement (0 = nothing used).</summary>
    public double FairShare(string queue) => FairShare(Quotas.QueueIndex(queue));

    private double FairShare(int q)
    {
        _capacity ??= ClusterCapacity();
        var share = 0.0;
        for (var r = 0; r < ResourceNames.Count; r++)
        {
            var used = _fairUsage[q][r] + (_cycleAdded?[q][r] ?? 0);
            if (used <= 0)
            {
                continue;
            }

            var entitlement = Quotas.IsConstrained(q, r) && Quotas.NominalAt(q, r) > 0 ? Quotas.NominalAt(q, r) : _capacity[r];
            if (entitlement > 0)
            {
                share = Math.Max(share, used / entitlement);
            }
        }

        return share / Math.Max(1e-9, Quotas.QueueAt(q).FairWeight);
    }

    private long[] ClusterCapacity()
    {
        var capacity = new long[ResourceNames.Count];
        for (var n = 0; n < Cluster.NodeCount; n++)
        {
            capacity[ResourceNames.CpuIndex] += Cluster.CpuCapacity[n];
            capacity[ResourceNames.MemoryIndex] += Cluster.MemoryCapacity[n];
        }

        for (var d = 0; d < Cluster.TotalDevices; d++)
        {
            var model = Cluster.ModelOf(d);
            capacity[ResourceNames.AcceleratorIndex(model)] += 1000;
            capacity[ResourceNames.ScuIndex] += Catalog[model].ScuMilli;
        }

        return capacity;
    }
}

/// <summary>Decayed fair-share usage by queue or cohort name and resource name (see <see cref="Scheduler.SaveFairUsage"/>).</summary>
public sealed record FairUsageSnapshot(DateTimeOffset? At, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Usage);
