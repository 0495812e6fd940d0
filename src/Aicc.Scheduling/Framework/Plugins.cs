using Aicc.Scheduling.Model;

namespace Aicc.Scheduling.Framework;

/// <summary>
/// A score plugin rates a node that passed every filter for one pod.
/// Contract: return a value in [0, 100], higher is better, without changing any state. When
/// <see cref="Cacheable"/> is true the value must depend only on the node's allocation state, the pod's
/// <see cref="PodShape"/> and whatever <see cref="Generation"/> stands for, because the placer reuses it for
/// later pods of the same shape until the node changes or the generation moves. A plugin that reads
/// anything else (randomness, the rest of the workload) says false and is evaluated afresh for every pod.
/// </summary>
public interface IScorePlugin
{
    string Name { get; }

    bool Cacheable { get; }

    /// <summary>For a cacheable plugin whose scores also read cluster-wide state (not only the node's): a
    /// counter that never decreases and grows whenever that state has changed enough to change any of its
    /// scores. The placer re-scores every node for a pod shape when the sum over the policy's plugins differs
    /// from the one its cached scores were computed under. Plugins that read only the node keep 0.</summary>
    long Generation(ClusterState cluster, ScoringContext context) => 0;

    double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context);
}

/// <summary>Chooses which devices of an already chosen node a pod takes. Contract: write exactly
/// <c>pod.Count</c> device indices (or one for a fraction) that are free for the pod and allowed by its
/// model mask; the filter has guaranteed that such devices exist.</summary>
public interface IDeviceSelector
{
    string Name { get; }

    void Choose(ClusterState cluster, int node, in PodRequest pod, ScoringContext context, Span<int> devices);
}

/// <summary>What a plugin may read besides the node and the pod: the seeded random source, the expected
/// workload (for fragmentation), and a running pod counter that keys per-pod randomness.</summary>
public sealed class ScoringContext
{
    public ScoringContext(ulong seed) => Seed = seed;

    public ulong Seed { get; }

    /// <summary>Advances once per pod placed or tried; random plugins mix it into their hash.</summary>
    public long PodSequence { get; internal set; }

    /// <summary>The distribution of pod shapes the cluster expects (FGD's target workload).</summary>
    public TargetWorkload Workload { get; } = new();

    /// <summary>A reproducible value in [0, 1) for (seed, pod, salt).</summary>
    public double Random(long salt) =>
        unchecked(Mix(Seed ^ ((ulong)PodSequence * 0x9E3779B97F4A7C15UL) ^ ((ulong)salt * 0xBF58476D1CE4E5B9UL)) >> 11) * (1.0 / (1UL << 53));

    internal static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}

/// <summary>
/// The pod shapes a cluster expects and how often (FGD's "target workload"). Either given up front (the
/// simulator derives it from a trace) or learned from the pods submitted so far.
/// </summary>
public sealed class TargetWorkload
{
    private readonly Dictionary<(long Cpu, int Count, int Milli, ulong Models), double> _weights = [];
    private TaskClass[]? _classes;

    public bool IsEmpty => _weights.Count == 0;

    /// <summary>Adds <paramref name="weight"/> pods of a shape.</summary>
    public void Add(long cpuMilli, int count, int milli, ulong modelMask, double weight = 1)
    {
        var key = (cpuMilli, count, milli, modelMask);
        _weights[key] = _weights.GetValueOrDefault(key) + weight;
        _classes = null;
        Version++;
    }

    public void Clear()
    {
        _weights.Clear();
        _classes = null;
        Version++;
    }

    /// <summary>Changes whenever the distribution changes; caches keyed on scores compare it.</summary>
    public int Version { get; private set; }

    /// <summary>The shapes with their popularity normalised to sum to 1, in a stable order.</summary>
    public ReadOnlySpan<TaskClass> Classes
    {
        get
        {
            if (_classes is null)
            {
                var total = _weights.Values.Sum();
                _classes = [.. _weights
                    .OrderBy(kv => kv.Key.Count).ThenBy(kv => kv.Key.Milli).ThenBy(kv => kv.Key.Cpu).ThenBy(kv => kv.Key.Models)
                    .Select(kv => new TaskClass(kv.Key.Cpu, kv.Key.Count, kv.Key.Milli, kv.Key.Models, kv.Value / total))];
            }

            return _classes;
        }
    }
}

/// <summary>One shape of the target workload with its popularity (0..1).</summary>
public readonly record struct TaskClass(long CpuMilli, int Count, int Milli, ulong ModelMask, double Popularity);

/// <summary>The built-in filter: capacity, accelerator model, device share, labels and taints.
/// Runs for every node and pod, allocates nothing.</summary>
public static class NodeFilter
{
    public static bool Fits(ClusterState c, int node, in PodRequest pod)
    {
        if (!c.Schedulable[node] ||
            c.CpuCapacity[node] - c.CpuUsed[node] < pod.CpuMilli ||
            c.MemoryCapacity[node] - c.MemoryUsed[node] < pod.MemoryMiB)
        {
            return false;
        }

        if (pod.WantsDevices && !FitsDevices(c, node, pod))
        {
            return false;
        }

        return pod.Shape.Constraints.Length == 0 && c.NodeSpecAt(node).Taints.Count == 0 || FitsConstraints(c.NodeSpecAt(node), pod.PodSet);
    }

    private static bool FitsDevices(ClusterState c, int node, in PodRequest pod)
    {
        var models = c.NodeModels[node];
        if ((models & pod.ModelMask) == 0)
        {
            return false;
        }

        var uniform = (models & pod.ModelMask) == models;
        if (pod.Count > 0)
        {
            if (c.FreeWhole[node] < pod.Count)
            {
                return false;
            }

            if (uniform && pod.DeviceMemoryMiB == 0)
            {
                return true;
            }

            return CountUsable(c, node, pod, whole: true) >= pod.Count;
        }

        if (c.MaxFreeMilli[node] < pod.Milli)
        {
            return false;
        }

        return (uniform && pod.DeviceMemoryMiB == 0) || CountUsable(c, node, pod, whole: false) > 0;
    }

    /// <summary>Devices of the node this pod could take (free whole devices, or devices with room for the share).</summary>
    internal static int CountUsable(ClusterState c, int node, in PodRequest pod, bool whole)
    {
        var n = 0;
        var end = c.DeviceStart[node] + c.DeviceCount[node];
        for (var d = c.DeviceStart[node]; d < end; d++)
        {
            if (IsUsable(c, d, pod, whole))
            {
                n++;
            }
        }

        return n;
    }

    internal static bool IsUsable(ClusterState c, int d, in PodRequest pod, bool whole) =>
        (pod.ModelMask & (1UL << c.DeviceModel[d])) != 0 &&
        (whole ? c.DeviceUsedMilli[d] == 0 : c.DeviceUsedMilli[d] + pod.Milli <= 1000) &&
        c.DeviceMemory[d] - c.DeviceMemoryUsed[d] >= pod.DeviceMemoryMiB;

    private static bool FitsConstraints(NodeSpec node, PodSetSpec podSet)
    {
        foreach (var (key, value) in podSet.NodeSelector)
        {
            if (!node.Labels.TryGetValue(key, out var actual) || actual != value)
            {
                return false;
            }
        }

        foreach (var taint in node.Taints)
        {
            var tolerated = false;
            foreach (var toleration in podSet.Tolerations)
            {
                if (toleration.Key == taint.Key && (toleration.Value.Length == 0 || toleration.Value == taint.Value))
                {
                    tolerated = true;
                    break;
                }
            }

            if (!tolerated)
            {
                return false;
            }
        }

        return true;
    }
}
