using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Plugins.BestFit;

namespace Aicc.Scheduling.Plugins.DotProduct;

/// <summary>
/// Alignment (Grandl et al., "Multi-Resource Packing for Cluster Schedulers", SIGCOMM'14, the Tetris
/// heuristic) as the FGD artifact configures it (<c>dot_product_score.go</c>, <c>dimext merge</c>,
/// <c>norm max</c>): the dot product of the pod's demand and the node's free resources over two
/// dimensions — CPU, and the node's accelerator share merged into one number — each divided by the
/// largest node spec. A small product means the pod uses a small part of what is free; the score is
/// <c>⌊100 · (1 − product / 2)⌋</c>, so the node with the least matching free space wins (packing).
/// </summary>
public sealed class DotProductPlugin : IScorePlugin
{
    public string Name => "DotProduct";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var dot = 0.0;
        dot += cluster.FreeCpu(node) / BestFitPlugin.MaxSpecCpuMilli * (pod.CpuMilli / BestFitPlugin.MaxSpecCpuMilli);
        dot += cluster.FreeMilliTotal[node] / BestFitPlugin.MaxSpecDeviceMilli * (pod.TotalMilli / BestFitPlugin.MaxSpecDeviceMilli);
        dot /= 2;
        return Math.Clamp((int)(100 * (1 - dot)), 0, 100);
    }
}
