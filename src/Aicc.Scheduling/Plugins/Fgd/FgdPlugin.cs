using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.Fgd;

/// <summary>
/// Fragmentation Gradient Descent (Weng et al., ATC'23): prefer the node whose expected fragmentation
/// grows least (or shrinks most) when the pod lands there. The change is bounded by the node's device
/// share, so the score maps a change of −8,000..+8,000 milli onto 100..0 with 50 for no change.
/// </summary>
public sealed class FgdPlugin : IScorePlugin
{
    /// <summary>Eight devices' worth of share: the change that maps to a score of 0 or 100.</summary>
    public const double Scale = 8000;

    public string Name => "FGD";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        var delta = Fragmentation.BestDelta(cluster, node, pod, context.Workload.Classes, out _);
        return Math.Clamp(50 - 50 * delta / Scale, 0, 100);
    }
}
