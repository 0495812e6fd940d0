namespace Aicc.Scheduling.Framework;

/// <summary>
/// Filter and score for one pod at a time, then bind it to devices. When every score plugin of the policy
/// is cacheable, scores live in one <see cref="ScoreTree"/> per pod shape and only nodes changed since the
/// tree was last used are re-scored: a stream of same-shaped pods costs O(changed nodes × log n) each
/// instead of O(n). Otherwise every feasible node is scored afresh.
/// </summary>
public sealed class Placer
{
    private const int MaxCachedShapes = 64;

    private readonly ClusterState _cluster;
    private readonly IScorePlugin[] _plugins;
    private readonly double[] _weights;
    private readonly IDeviceSelector _devices;
    private readonly bool _randomTies;
    private readonly bool _cacheable;
    private readonly Dictionary<PodShape, CacheEntry> _cache = [];
    private long _useClock;

    private sealed class CacheEntry(int nodes)
    {
        public readonly ScoreTree Tree = new(nodes);
        public long Sequence = -1;
        public int WorkloadVersion = -1;
        public long Generation = -1;
        public long LastUse;
    }

    public Placer(ClusterState cluster, PolicySpec policy, ScoringContext context)
    {
        _cluster = cluster;
        Context = context;
        _plugins = [.. policy.Scores.Select(s => PluginRegistry.CreateScore(s.Plugin))];
        _weights = [.. policy.Scores.Select(s => s.Weight)];
        _devices = PluginRegistry.CreateDeviceSelector(policy.DeviceSelection);
        _randomTies = string.Equals(policy.TieBreak, "Random", StringComparison.OrdinalIgnoreCase);
        _cacheable = _plugins.All(p => p.Cacheable);
        UsesTopology = _plugins.Any(p => p is Plugins.TopologyPacking.TopologyPackingPlugin);
        UsesRandomness = _randomTies || _plugins.Any(p => p is Plugins.Random.RandomPlugin) || _devices is Plugins.DeviceSelection.RandomDevices;
    }

    /// <summary>Whether a placement reads <see cref="ScoringContext.Random"/>, whose value moves on with every
    /// pod tried: then skipping a what-if placement would change later ones, and nothing may be memoised.</summary>
    public bool UsesRandomness { get; }

    public ScoringContext Context { get; }

    public ClusterState Cluster => _cluster;

    /// <summary>True when the policy asks for topology-aware gang placement.</summary>
    public bool UsesTopology { get; }

    /// <summary>Pods placed or tried since creation, for throughput figures.</summary>
    public long Evaluations { get; private set; }

    /// <summary>The weighted score of a node for a pod, or negative infinity when it does not fit.</summary>
    public double ScoreNode(int node, in PodRequest pod)
    {
        if (!NodeFilter.Fits(_cluster, node, pod))
        {
            return double.NegativeInfinity;
        }

        var total = 0.0;
        for (var i = 0; i < _plugins.Length; i++)
        {
            total += _weights[i] * _plugins[i].Score(_cluster, node, pod, Context);
        }

        return total;
    }

    /// <summary>The best node for the pod over the whole cluster, or -1 when none fits.</summary>
    public int FindNode(in PodRequest pod)
    {
        Context.PodSequence++;
        Evaluations++;
        return _cacheable ? FindCached(pod) : FindAmong(null, pod);
    }

    /// <summary>The best node among <paramref name="candidates"/> (all nodes when null), or -1.</summary>
    public int FindAmong(int[]? candidates, in PodRequest pod)
    {
        var best = double.NegativeInfinity;
        var bestNode = -1;
        var ties = 0;
        var count = candidates?.Length ?? _cluster.NodeCount;
        for (var i = 0; i < count; i++)
        {
            var node = candidates is null ? i : candidates[i];
            var score = ScoreNode(node, pod);
            if (double.IsNegativeInfinity(score))
            {
                continue;
            }

            if (score > best)
            {
                best = score;
                bestNode = node;
                ties = 1;
            }
            else if (score == best && _randomTies)
            {
                // Reservoir sampling keeps each tied node equally likely in one pass.
                ties++;
                if (Context.Random(node) * ties < 1.0)
                {
                    bestNode = node;
                }
            }
        }

        return bestNode;
    }

    private int FindCached(in PodRequest pod)
    {
        var entry = Refresh(pod);
        var ties = entry.Tree.TieCount;
        if (ties == 0)
        {
            return -1;
        }

        var k = _randomTies && ties > 1 ? (int)(Context.Random(ties) * ties) : 0;
        return entry.Tree.FindTied(Math.Min(k, ties - 1));
    }

    private CacheEntry Refresh(in PodRequest pod)
    {
        if (!_cache.TryGetValue(pod.Shape, out var entry))
        {
            if (_cache.Count >= MaxCachedShapes)
            {
                var oldest = _cache.MinBy(kv => kv.Value.LastUse).Key;
                _cache.Remove(oldest);
            }

            entry = new CacheEntry(_cluster.NodeCount);
            _cache.Add(pod.Shape, entry);
        }

        entry.LastUse = ++_useClock;
        var workloadVersion = Context.Workload.Version;
        var generation = 0L;
        foreach (var plugin in _plugins)
        {
            generation += plugin.Generation(_cluster, Context);
        }

        if (entry.Sequence >= 0 && entry.WorkloadVersion == workloadVersion && entry.Generation == generation &&
            _cluster.TryGetChangesSince(entry.Sequence, out var first, out var second) &&
            first.Length + second.Length < _cluster.NodeCount / 4)
        {
            foreach (var node in first)
            {
                entry.Tree.Update(node, ScoreNode(node, pod));
            }

            foreach (var node in second)
            {
                entry.Tree.Update(node, ScoreNode(node, pod));
            }
        }
        else
        {
            for (var node = 0; node < _cluster.NodeCount; node++)
            {
                entry.Tree.SetLeaf(node, ScoreNode(node, pod));
            }

            entry.Tree.Rebuild();
        }

        entry.Sequence = _cluster.ChangeSequence;
        entry.WorkloadVersion = workloadVersion;
        entry.Generation = generation;
        return entry;
    }

    /// <summary>Chooses devices on <paramref name="node"/> and takes the pod's resources there.</summary>
    public bool TryBind(int node, in PodRequest pod, int owner, out PodAllocation allocation)
    {
        int[] devices;
        var milli = 0;
        if (pod.Count > 0)
        {
            devices = new int[pod.Count];
            _devices.Choose(_cluster, node, pod, Context, devices);
            milli = 1000;
        }
        else if (pod.Milli > 0)
        {
            devices = new int[1];
            _devices.Choose(_cluster, node, pod, Context, devices);
            milli = pod.Milli;
        }
        else
        {
            devices = [];
        }

        allocation = new PodAllocation(node, devices, milli, pod.CpuMilli, pod.MemoryMiB, pod.DeviceMemoryMiB);
        return _cluster.Allocate(allocation, owner);
    }
}
