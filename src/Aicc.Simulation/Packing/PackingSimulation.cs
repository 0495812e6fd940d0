using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Plugins.Fgd;

namespace Aicc.Simulation.Packing;

/// <summary>Knobs of the packing experiment; the defaults are the FGD paper's.</summary>
public sealed record PackingOptions
{
    /// <summary>Arrivals continue until their accelerator demand reaches this multiple of capacity.</summary>
    public double Tune { get; init; } = 1.3;

    /// <summary>Share of pods (percent) that FGD's target workload covers.</summary>
    public double TypicalThresholdPercent { get; init; } = TypicalPods.DefaultThresholdPercent;

    /// <summary>Arrival order and node ranks to use instead of the seed's draw (<see cref="PackingReplay"/>);
    /// the seed still seeds the policies' own random choices.</summary>
    public PackingReplay? Replay { get; init; }
}

/// <summary>One seed's outcome: allocation and fragmentation ratio (percent) against arrived load
/// 0..130% (NaN where the run has no arrival near that load).</summary>
public sealed record SeedCurve(int Seed, double[] AllocPct, double[] FragRatioPct, int Arrivals, int Failed, long PlacementsPerSecond)
{
    /// <summary>Where the idle share lies after the last arrival; null for curves built by hand.</summary>
    public IdleBreakdown? IdleAtEnd { get; init; }
}

/// <summary>
/// The static packing experiment of Weng et al., ATC'23 §6 ("Beware of Fragmentation"), as their artifact
/// runs it (hkust-adsl/kubernetes-scheduler-simulator): pods sorted by name and shuffled by the seed; the
/// list grown by pods drawn at random from the original until arrived accelerator demand would pass
/// <c>tune</c> × capacity (or shrunk at random while above it); then each pod placed on arrival, in
/// order, never moved or removed. After every arrival the run records arrived demand, allocated share and
/// the fragmentation ratio (fragmented / idle share, <see cref="Fragmentation"/>). The figure at k% is the
/// mean, over arrivals whose arrived demand rounds to k% of capacity, of the allocated share in percent
/// (each rounded to 0.01 first), falling back to k ± 1% where no arrival rounds to k.
/// Placement is the real core: a <see cref="Placer"/> over a <see cref="ClusterState"/> with the
/// policy's plugins and FGD's target workload set from the pod list.
/// </summary>
public static class PackingSimulation
{
    public const int MaxLoadPct = 130;

    public static SeedCurve Run(PackingInput input, PolicySpec policy, int seed, PackingOptions options, Action<int, int>? progress = null)
    {
        var (order, ranks) = options.Replay is { } replay ? ([.. replay.Order], [.. replay.Ranks]) : Draw(input, seed, options.Tune);
        var byRank = new NodeSpec[input.Nodes.Count];
        for (var i = 0; i < byRank.Length; i++)
        {
            byRank[ranks[i]] = input.Nodes[i];
        }

        var cluster = new ClusterState(input.Catalog, byRank);
        var context = new ScoringContext(unchecked((ulong)seed));
        TypicalPods.Apply(input, context.Workload, options.TypicalThresholdPercent);
        var placer = new Placer(cluster, policy, context);
        var classes = context.Workload.Classes.ToArray();

        var capacity = input.Gpus * 1000L;
        var nodeFrag = new double[cluster.NodeCount];
        var fragSum = 0.0;
        for (var node = 0; node < cluster.NodeCount; node++)
        {
            nodeFrag[node] = Fragmentation.OfNode(cluster, node, classes);
            fragSum += nodeFrag[node];
        }

        // The largest share one pod holds on each device, for the idle breakdown at the end.
        var largestShare = new int[cluster.TotalDevices];
        var bucket = new int[order.Length + 1];
        var alloc = new double[order.Length + 1];
        var frag = new double[order.Length + 1];
        long arrived = 0;
        var failed = 0;
        Record(0);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < order.Length; i++)
        {
            var index = order[i];
            var pod = input.Requests[index];
            arrived += input.Pods[index].TotalMilli;
            var node = placer.FindNode(pod);
            if (node >= 0 && placer.TryBind(node, pod, i, out var allocation))
            {
                foreach (var d in allocation.Devices)
                {
                    largestShare[d] = Math.Max(largestShare[d], allocation.MilliPerDevice);
                }

                fragSum -= nodeFrag[node];
                nodeFrag[node] = Fragmentation.OfNode(cluster, node, classes);
                fragSum += nodeFrag[node];
            }
            else
            {
                failed++;
            }

            Record(i + 1);
            if (progress is not null && (i & 255) == 0)
            {
                progress(i, order.Length);
            }
        }

        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        progress?.Invoke(order.Length, order.Length);
        return new SeedCurve(seed, Discretise(bucket, alloc, round: true), Discretise(bucket, frag, round: false), order.Length, failed, (long)(order.Length / Math.Max(seconds, 1e-9)))
        {
            IdleAtEnd = IdleBreakdown.Of(cluster, input.Requests, largestShare),
        };

        void Record(int at)
        {
            var used = cluster.AllocatedMilli;
            bucket[at] = (int)Math.Round(arrived / (double)input.Gpus / 10);
            alloc[at] = Math.Round(used / (double)input.Gpus / 10, 2);
            var idle = capacity - used;
            frag[at] = idle > 0 ? Math.Round(100 * fragSum / idle, 2) : double.NaN;
        }
    }

    /// <summary>The arrival order and node ranks a seed draws, in the order the run draws them.</summary>
    public static (int[] Order, int[] Ranks) Draw(PackingInput input, int seed, double tune)
    {
        var random = new Random(seed);
        var order = ArrivalOrder(input, random, tune);
        return (order, NodeRanks(input.Nodes.Count, random));
    }

    /// <summary>Indices into <see cref="PackingInput.Pods"/> in arrival order: the shuffled list, then the
    /// pods the tuning adds (or minus those it removes).</summary>
    public static int[] ArrivalOrder(PackingInput input, int seed, double tune) => ArrivalOrder(input, new Random(seed), tune);

    /// <summary>
    /// The rank of each node (in name order) for one seed: a random permutation drawn after the arrival
    /// order, as Go's <c>rand.Perm</c> draws it. The artifact renames node i to <c>perm[i]-name</c>
    /// (<c>simulator.go::syncClusterResourceList</c>) and its scheduler breaks score ties toward the
    /// smallest name, so ties go to a node that is random per seed but fixed for the run. The cluster is
    /// built in rank order and the policies' <c>First</c> tie-break then picks the same node. Without it
    /// every tie falls on the first nodes of the file (22 two-GPU P100 nodes with 64 cores), which is what
    /// kept <c>gpupacking</c> and <c>gpuclustering</c> ~1 pt low: they score every node 0 for CPU-only pods.
    /// </summary>
    public static int[] NodeRanks(int count, Random random)
    {
        var rank = new int[count];
        for (var i = 0; i < count; i++)
        {
            var j = random.Next(i + 1);
            rank[i] = rank[j];
            rank[j] = i;
        }

        return rank;
    }

    private static int[] ArrivalOrder(PackingInput input, Random random, double tune)
    {
        var n = input.Pods.Count;
        var order = new List<int>(n * 2);
        order.AddRange(Enumerable.Range(0, n));

        // Go's rand.Shuffle: Fisher–Yates from the end.
        for (var i = n - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        if (tune <= 0)
        {
            return [.. order];
        }

        var target = tune * input.Gpus * 1000;
        var total = input.Pods.Sum(p => p.TotalMilli);
        if (total > target)
        {
            while (total > target && order.Count > 0)
            {
                var k = random.Next(order.Count);
                total -= input.Pods[order[k]].TotalMilli;
                order.RemoveAt(k);
            }
        }
        else if (input.Pods.Any(p => p.TotalMilli > 0))
        {
            while (true)
            {
                var k = random.Next(n);

                // The artifact tests the per-device share here but adds the whole demand; kept as it is.
                var pod = input.Pods[k];
                if (total + (pod.NumGpu == 0 ? 0 : pod.GpuMilli) > target)
                {
                    break;
                }

                total += pod.TotalMilli;
                order.Add(k);
            }
        }

        return [.. order];
    }

    private static double[] Discretise(int[] bucket, double[] value, bool round)
    {
        var sum = new double[MaxLoadPct + 3];
        var count = new int[MaxLoadPct + 3];
        for (var i = 0; i < bucket.Length; i++)
        {
            var b = bucket[i];
            if (b >= 0 && b <= MaxLoadPct + 1 && !double.IsNaN(value[i]))
            {
                sum[b] += value[i];
                count[b]++;
            }
        }

        var curve = new double[MaxLoadPct + 1];
        for (var k = 0; k <= MaxLoadPct; k++)
        {
            double s = sum[k];
            int c = count[k];
            if (c == 0)
            {
                for (var j = Math.Max(0, k - 1); j <= k + 1; j++)
                {
                    s += sum[j];
                    c += count[j];
                }
            }

            curve[k] = c == 0 ? double.NaN : round ? Math.Round(s / c, 2) : s / c;
        }

        return curve;
    }
}
