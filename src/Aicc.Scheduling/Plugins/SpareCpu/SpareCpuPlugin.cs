using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.SpareCpu;

/// <summary>
/// Sends a pod that requests no accelerator to the node where CPU is most spare next to the node's idle
/// accelerator share: r = free cores after placement / (free devices + 0.1), scored 100 · r / (r + 10),
/// so a node whose devices are all taken (or that has none) scores near 100 and one with 8 idle devices
/// and 96 free cores about 55. Pods that request devices score 0 everywhere: the plugin orders nothing
/// for them. O(1) per node.
/// </summary>
/// <remarks>
/// Meant as a tie-break under FGD (weight 1 against FGD's 1000). FGD's gradient is 0 on most nodes for a
/// CPU-only pod, so the first node in order gets it, whether or not its idle devices still need that CPU.
/// On openb at 130% load FGD leaves 47-149 GPUs idle on nodes that have device room but no CPU or
/// memory for any GPU pod (docs/simulator.md); this plugin moves CPU-only pods away from such nodes.
/// </remarks>
public sealed class SpareCpuPlugin : IScorePlugin
{
    /// <summary>Cores per free device at which the score is 50.</summary>
    public const double HalfScoreCoresPerDevice = 10;

    public string Name => "SpareCpu";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        if (pod.WantsDevices)
        {
            return 0;
        }

        var coresAfter = Math.Max(0, cluster.FreeCpu(node) - pod.CpuMilli) / 1000.0;
        var ratio = coresAfter / ((cluster.FreeMilliTotal[node] / 1000.0) + 0.1);
        return 100 * ratio / (ratio + HalfScoreCoresPerDevice);
    }
}
