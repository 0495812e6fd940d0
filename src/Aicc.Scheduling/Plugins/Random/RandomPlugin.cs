using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.Random;

/// <summary>A seeded random score per (pod, node): the baseline every other policy must beat.</summary>
public sealed class RandomPlugin : IScorePlugin
{
    public string Name => "Random";

    public bool Cacheable => false;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context) => 100 * context.Random(node);
}
