using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Plugins.LeastAllocated;

namespace Aicc.Scheduling.Plugins.BestFit;

/// <summary>Pack: prefer the node with the least resources left after placement, so that large free
/// nodes stay free for large pods.</summary>
public sealed class BestFitPlugin : IScorePlugin
{
    public string Name => "BestFit";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context) =>
        100 * (1 - ResourceFractions.MeanFreeAfter(cluster, node, pod));
}
