using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.Fgd;

/// <summary>
/// Fragmentation Gradient Descent (Weng et al., ATC'23): prefer the node whose expected fragmentation
/// shrinks most (or grows least) when the pod lands there. As in the authors' artifact
/// (<c>fgd_score.go</c>), the score is <c>⌊100 · sigmoid((before − after) / 1000)⌋</c>: an integer, so
/// nodes whose fragmentation changes by nearly the same amount tie and the placer's tie-break decides
/// among them. A fractional pod is scored on its best device (the one <see cref="FgdDevices"/> picks).
/// </summary>
/// <remarks>
/// <paramref name="levels"/> gives the width of one score level in sigmoid points, per kind of pod: 1 is
/// the artifact's FGD; 2 (<c>FGDCoarse</c>) halves the resolution, so nodes whose expected fragmentation
/// changes by up to about 0.08 device tie and the tie-break, a node order fixed for the run, consolidates
/// among them; 0 (<c>FGDExact</c>) keeps the sigmoid unquantised. <c>FGDSized</c> keeps the artifact's
/// levels for pods that take at most half a device, which fill the remnants other pods leave and where
/// the exact gradient picks the remnant they fit best, and coarse levels for the rest, which open idle
/// devices and gain from consolidation. Measured on openb (docs/simulator.md).
/// </remarks>
public sealed class FgdPlugin(FgdLevels levels) : IScorePlugin
{
    /// <summary>Change of expected fragmentation, in milli-devices, that moves the sigmoid by one unit.</summary>
    public const double Scale = 1000;

    private readonly FgdNodeCache _cache = new();

    /// <summary>FGD with the same level width for every pod.</summary>
    public FgdPlugin(int step = 1)
        : this(FgdLevels.Uniform(step))
    {
    }

    public string Name => levels.Name;

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context) =>
        FgdScore.Evaluate(cluster, node, pod, context.Workload, _cache, levels.For(pod), out _, out _);
}

/// <summary>Width of FGD's score levels in sigmoid points (0: unquantised) for whole-device and CPU-only
/// pods, for fractional pods of more than half a device, and for those of at most half.</summary>
public readonly record struct FgdLevels(int Whole, int LargeFraction, int SmallFraction)
{
    /// <summary>The largest share (milli-devices) that counts as a small fraction.</summary>
    public const int SmallFractionMilli = 500;

    /// <summary>The artifact's levels for small fractions, two points for every other pod.</summary>
    public static readonly FgdLevels Sized = new(2, 2, 1);

    public static FgdLevels Uniform(int step) => new(step, step, step);

    /// <summary>The plugin and device-selector name these levels register under.</summary>
    public string Name => this == Uniform(0) ? "FGDExact" : this == Uniform(1) ? "FGD" : this == Uniform(2) ? "FGDCoarse" : "FGDSized";

    public int For(in PodRequest pod) =>
        pod.Count > 0 || pod.Milli == 0 ? Whole : pod.Milli <= SmallFractionMilli ? SmallFraction : LargeFraction;
}

/// <summary>FGD's device choice inside the node: a fractional pod takes the device with the highest FGD
/// score, the lowest-numbered one among equals (the artifact's <c>allocateGpuIdBasedOnFGDScore</c>);
/// whole-device pods take the lowest-numbered free devices.</summary>
public sealed class FgdDevices(FgdLevels levels) : IDeviceSelector
{
    private readonly FgdNodeCache _cache = new();

    public FgdDevices(int step = 1)
        : this(FgdLevels.Uniform(step))
    {
    }

    public string Name => levels.Name;

    public void Choose(ClusterState cluster, int node, in PodRequest pod, ScoringContext context, Span<int> devices)
    {
        var first = cluster.FirstDevice(node);
        if (pod.Count > 0)
        {
            // NVLink-aware: the snuggest domain that holds the pod. On nodes with one domain (the openb
            // trace) this is exactly the artifact's lowest-index free devices.
            DeviceSelection.BestFitDevices.SelectWhole(cluster, first, first + cluster.DevicesOn(node), pod, devices);
            return;
        }

        FgdScore.Evaluate(cluster, node, pod, context.Workload, _cache, levels.For(pod), out var best, out _);
        devices[0] = first + best;
    }
}

/// <summary>Per-node expected fragmentation as it stands, remembered until the node or the workload
/// changes: halves the work of scoring, since "before" is the same for every pod shape.</summary>
internal sealed class FgdNodeCache
{
    private ClusterState? _cluster;
    private int _workloadVersion = -1;
    private double[] _value = [];
    private int[] _version = [];

    public double Before(ClusterState c, int node, TargetWorkload workload, ReadOnlySpan<int> free, ReadOnlySpan<int> models)
    {
        if (!ReferenceEquals(_cluster, c) || _workloadVersion != workload.Version || _value.Length != c.NodeCount)
        {
            _cluster = c;
            _workloadVersion = workload.Version;
            _value = new double[c.NodeCount];
            _version = new int[c.NodeCount];
            Array.Fill(_version, -1);
        }

        if (_version[node] != c.Version[node])
        {
            _value[node] = Fragmentation.Expected(free, models, c.FreeCpu(node), workload.Classes);
            _version[node] = c.Version[node];
        }

        return _value[node];
    }
}

/// <summary>The FGD score of one node for one pod, shared by the score plugin and the device selector.</summary>
internal static class FgdScore
{
    public static double Evaluate(ClusterState c, int node, in PodRequest pod, TargetWorkload workload, FgdNodeCache cache, int step, out int bestDevice, out double bestDelta)
    {
        var n = c.DevicesOn(node);
        Span<int> free = stackalloc int[n];
        Span<int> models = stackalloc int[n];
        Fragmentation.Load(c, node, free, models);
        var classes = workload.Classes;
        var before = cache.Before(c, node, workload, free, models);
        var cpuAfter = c.FreeCpu(node) - pod.CpuMilli;
        bestDevice = -1;
        bestDelta = 0;
        if (pod.Milli == 0)
        {
            Fragmentation.TakeWhole(free, models, pod);
            bestDelta = Fragmentation.Expected(free, models, cpuAfter, classes) - before;
            return ToScore(bestDelta, step);
        }

        var best = -1.0;
        var first = c.FirstDevice(node);
        for (var d = 0; d < n; d++)
        {
            if (!NodeFilter.IsUsable(c, first + d, pod, whole: false))
            {
                continue;
            }

            free[d] -= pod.Milli;
            var delta = Fragmentation.Expected(free, models, cpuAfter, classes) - before;
            free[d] += pod.Milli;
            var score = ToScore(delta, step);
            if (score > best)
            {
                best = score;
                bestDevice = d;
                bestDelta = delta;
            }
        }

        return Math.Max(best, 0);
    }

    /// <summary>⌊100 · sigmoid((before − after) / 1000)⌋, evaluated in the artifact's order of operations so
    /// that the integer cut falls at the same places.</summary>
    /// <summary>The score in levels of <paramref name="step"/> sigmoid points (0: unquantised).</summary>
    public static double ToScore(double delta, int step) => step switch
    {
        0 => 100.0 / (1.0 + Math.Exp(delta / FgdPlugin.Scale)),
        1 => ToScore(delta),
        _ => ToScore(delta) / step * step,
    };

    public static int ToScore(double delta)
    {
        var x = -delta / FgdPlugin.Scale;
        return (int)(1.0 / (1.0 + Math.Exp(-x)) * 100);
    }
}
