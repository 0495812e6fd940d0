using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.BestFit;

/// <summary>
/// Pack: prefer the node with the least CPU and accelerator share left after placement, so that large
/// free nodes stay free for large pods. The FGD artifact's <c>best_fit_score.go</c>: the leftovers are
/// normalised by the largest node spec (128 cores, 8 devices), weighed half and half, and the score is
/// <c>⌊100 · (1 − leftover)⌋</c>. Its per-pod min-max normalisation is monotone and, on integer scores
/// spanning at most 100, one-to-one, so the best node and its ties are the same without it.
/// </summary>
public sealed class BestFitPlugin : IScorePlugin
{
    /// <summary>CPU of the largest node the score is normalised by, millicores.</summary>
    public const double MaxSpecCpuMilli = 128_000;

    /// <summary>Accelerator share of the largest node the score is normalised by, milli-devices.</summary>
    public const double MaxSpecDeviceMilli = 8_000;

    public string Name => "BestFit";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var leftover = 0.0;
        leftover += (cluster.FreeCpu(node) - (double)pod.CpuMilli) / MaxSpecCpuMilli * 0.5;
        leftover += ((double)cluster.FreeMilliTotal[node] - pod.TotalMilli) / MaxSpecDeviceMilli * 0.5;
        return Math.Clamp((int)((1.0 - leftover) * 100), 0, 100);
    }
}
