using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.ModelReserve;

/// <summary>
/// Keep scarce accelerator models for the pods that can run nowhere else. From the target workload
/// (<see cref="ScoringContext.Workload"/>, FGD's typical pods) it computes, per model, the share demanded
/// by classes restricted to a subset of the models present, spread over their allowed models in
/// proportion to supply, divided by that model's supply: the model's pressure. A pod that may use
/// several models scores a node by how little pressure its model carries, 100 at the lightest of the
/// pod's models down to 0 at the heaviest; a pod restricted to one model (or a workload without
/// restricted classes) scores 100 everywhere, so the plugin never changes its choice. Pods without
/// accelerators are scored too: their CPU on a scarce model's node can starve that model's pods.
/// The pressure is static for a cluster and a workload (O(devices + classes) once, then O(1) a node).
/// </summary>
public sealed class ModelReservePlugin : IScorePlugin
{
    private ClusterState? _cluster;
    private int _workloadVersion = -1;
    private readonly double[] _pressure = new double[64];
    private ulong _present;

    public string Name => "ModelReserve";

    public bool Cacheable => true;

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        Refresh(cluster, context.Workload);
        var allowed = (pod.WantsDevices ? pod.ModelMask : ulong.MaxValue) & _present;
        if (cluster.DevicesOn(node) == 0 || (allowed & (allowed - 1)) == 0)
        {
            return 100;
        }

        var max = 0.0;
        for (var m = 0; m < 64; m++)
        {
            if ((allowed & (1UL << m)) != 0)
            {
                max = Math.Max(max, _pressure[m]);
            }
        }

        var model = cluster.ModelOf(cluster.FirstDevice(node));
        return max <= 0 ? 100 : 100 * (1 - (_pressure[model] / max));
    }

    private void Refresh(ClusterState cluster, TargetWorkload workload)
    {
        if (ReferenceEquals(_cluster, cluster) && _workloadVersion == workload.Version)
        {
            return;
        }

        _cluster = cluster;
        _workloadVersion = workload.Version;
        Span<double> supply = stackalloc double[64];
        _present = 0;
        for (var node = 0; node < cluster.NodeCount; node++)
        {
            var first = cluster.FirstDevice(node);
            for (var d = first; d < first + cluster.DevicesOn(node); d++)
            {
                var m = cluster.ModelOf(d) & 63;
                supply[m] += 1000;
                _present |= 1UL << m;
            }
        }

        Array.Clear(_pressure);
        foreach (ref readonly var task in workload.Classes)
        {
            var allowed = task.ModelMask & _present;
            if ((task.Count == 0 && task.Milli == 0) || allowed == _present || allowed == 0)
            {
                continue;
            }

            var demand = task.Popularity * (task.Count > 0 ? task.Count * 1000.0 : task.Milli);
            var allowedSupply = 0.0;
            for (var m = 0; m < 64; m++)
            {
                allowedSupply += (allowed & (1UL << m)) != 0 ? supply[m] : 0;
            }

            for (var m = 0; m < 64; m++)
            {
                if ((allowed & (1UL << m)) != 0)
                {
                    _pressure[m] += demand * supply[m] / allowedSupply / supply[m];
                }
            }
        }
    }
}
