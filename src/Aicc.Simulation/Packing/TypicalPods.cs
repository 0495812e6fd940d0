using Aicc.Scheduling.Framework;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Packing;

/// <summary>
/// FGD's target workload, built as the artifact builds it (<c>utils.GetTypicalPods</c>, threshold 95,
/// CPU-only pods included): pods of the original list are grouped by (CPU, share per GPU, GPU count,
/// allowed models), the groups sorted by size, and the largest groups that together hold 95% of the pods
/// kept with their popularity renormalised to sum to 1. Memory plays no part in fragmentation.
/// </summary>
public static class TypicalPods
{
    public const double DefaultThresholdPercent = 95;

    /// <summary>Classes with popularity, largest first.</summary>
    public static IReadOnlyList<(OpenbPod Shape, double Popularity)> Of(IReadOnlyList<OpenbPod> pods, double thresholdPercent = DefaultThresholdPercent)
    {
        var groups = pods
            .GroupBy(p => (p.CpuMilli, Milli: p.NumGpu == 0 ? 0 : p.GpuMilli, p.NumGpu, p.GpuSpec))
            .Select(g => (g.Key, Count: g.Count(), Shape: g.First()))
            .OrderByDescending(g => g.Count)
            .ThenByDescending(g => g.Key.CpuMilli)
            .ThenByDescending(g => g.Key.Milli)
            .ThenByDescending(g => g.Key.NumGpu)
            .ThenByDescending(g => g.Key.GpuSpec, StringComparer.Ordinal)
            .ToList();
        var expected = thresholdPercent * pods.Count / 100.0;
        var kept = 0;
        var cumulative = 0.0;
        while (cumulative < expected && kept < groups.Count)
        {
            cumulative += groups[kept].Count;
            kept++;
        }

        return [.. groups.Take(kept).Select(g => (g.Shape, g.Count / cumulative))];
    }

    /// <summary>Sets <paramref name="workload"/> to the typical pods of <paramref name="input"/>.</summary>
    public static void Apply(PackingInput input, TargetWorkload workload, double thresholdPercent = DefaultThresholdPercent)
    {
        workload.Clear();
        foreach (var (shape, popularity) in Of(input.Pods, thresholdPercent))
        {
            var whole = shape.NumGpu > 0 && shape.GpuMilli >= 1000;
            workload.Add(
                shape.CpuMilli,
                whole ? shape.NumGpu : 0,
                shape.NumGpu > 0 && !whole ? shape.GpuMilli : 0,
                PackingInput.MaskOf(input.Catalog, shape.GpuSpec),
                popularity);
        }
    }
}
