using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.ModelScarcity;

/// <summary>
/// Keeps the accelerator models that some pods must have for those pods. From the target workload
/// (<see cref="ScoringContext.Workload"/>, FGD's typical pods) each model gets a claim: the share of
/// expected accelerator demand that comes from classes restricted to a subset of the cluster's models, each
/// such class's demand spread over its allowed models in proportion to their supply. A model's slack is
/// its free share (in devices) over its claim: how much more demand the model can absorb before the pods
/// that need it find it full. A pod that may use several models scores a node by the slack of the node's
/// model against the largest slack among the pod's models, in levels a factor of
/// <see cref="LevelRatio"/> apart: 100 on the roomiest models, 80 one level down, 64 two down, and so on.
/// Pods restricted to one model, pods without accelerators, and workloads without restricted classes
/// score 100 everywhere, so the plugin changes nothing for them.
/// </summary>
/// <remarks>
/// FGD sees scarcity only faintly: taking a free device that restricted classes may not use lowers
/// their fragments by one device times their popularity, a pull of a few score points at most that does
/// not grow as the scarce model runs out. So FGD may take the last free devices of a model that a third of the workload can
/// use nowhere else while hundreds of devices of another model stand idle. On openb's gpuspec33 at 100% load (seed 42)
/// the restricted pods FGD had turned away asked for 11% of capacity, and unrestricted pods held as much
/// on the scarce models (docs/simulator.md). Slack is dynamic: as the roomy model fills, its slack falls
/// and unrestricted pods spill over. The score reads cluster-wide free shares and stays cacheable through
/// <see cref="Generation"/>, which moves only when some model's level changes (about 80 times in an
/// openb run of 10,866 pods). Cost: O(models) per cluster change (the cluster keeps free shares per
/// model), O(models) per node.
/// </remarks>
public sealed class ModelScarcityPlugin : IScorePlugin
{
    /// <summary>Ratio of slack between adjacent score levels.</summary>
    public const double LevelRatio = 1.25;

    /// <summary>Added to every claim so that a model no restricted class needs has a finite, very large slack.</summary>
    private const double ClaimFloor = 0.001;

    private const int Models = Model.AcceleratorCatalog.MaxModels;

    private readonly double[] _claim = new double[Models];
    private readonly int[] _level = new int[Models];
    private ClusterState? _cluster;
    private int _workloadVersion = -1;
    private long _sequence = -1;
    private long _generation;
    private ulong _present;
    private bool _anyClaim;

    public string Name => "ModelScarcity";

    public bool Cacheable => true;

    public long Generation(ClusterState cluster, ScoringContext context)
    {
        Refresh(cluster, context.Workload);
        return _generation;
    }

    public double Score(ClusterState cluster, int node, in PodRequest pod, ScoringContext context)
    {
        if (!pod.WantsDevices || cluster.DevicesOn(node) == 0)
        {
            return 100;
        }

        Refresh(cluster, context.Workload);
        var allowed = pod.ModelMask & _present;
        if (!_anyClaim || (allowed & (allowed - 1)) == 0)
        {
            return 100;
        }

        var top = int.MinValue;
        for (var m = 0; m < Models; m++)
        {
            if ((allowed & (1UL << m)) != 0)
            {
                top = Math.Max(top, _level[m]);
            }
        }

        return 100 * Math.Pow(LevelRatio, _level[cluster.ModelOf(cluster.FirstDevice(node))] - top);
    }

    /// <summary>The claim of each model (share of expected demand, 0..1) for tests and reports.</summary>
    public double ClaimOf(ClusterState cluster, TargetWorkload workload, int model)
    {
        Refresh(cluster, workload);
        return _claim[model];
    }

    private void Refresh(ClusterState cluster, TargetWorkload workload)
    {
        if (!ReferenceEquals(_cluster, cluster) || _workloadVersion != workload.Version)
        {
            _cluster = cluster;
            _workloadVersion = workload.Version;
            _sequence = -1;
            ComputeClaims(cluster, workload);
            _generation++;
        }

        // Without a claim every score is 100 and the free shares are never read.
        if (!_anyClaim || _sequence == cluster.ChangeSequence)
        {
            return;
        }

        _sequence = cluster.ChangeSequence;
        var changed = false;
        for (var m = 0; m < Models; m++)
        {
            var slack = cluster.FreeMilliOfModel(m) / 1000.0 / (_claim[m] + ClaimFloor);
            var level = slack > 0 ? (int)Math.Floor(Math.Log(slack) / Math.Log(LevelRatio)) : int.MinValue / 2;
            changed |= level != _level[m];
            _level[m] = level;
        }

        if (changed)
        {
            _generation++;
        }
    }

    private void ComputeClaims(ClusterState cluster, TargetWorkload workload)
    {
        _present = 0;
        for (var m = 0; m < Models; m++)
        {
            _present |= cluster.DevicesOfModel(m) > 0 ? 1UL << m : 0;
        }

        Array.Clear(_claim);
        var total = 0.0;
        foreach (ref readonly var task in workload.Classes)
        {
            if (task.Count == 0 && task.Milli == 0)
            {
                continue;
            }

            var demand = task.Popularity * (task.Count > 0 ? task.Count * 1000.0 : task.Milli);
            total += demand;
            var allowed = task.ModelMask & _present;
            if (allowed == _present || allowed == 0)
            {
                continue;
            }

            var allowedSupply = 0.0;
            for (var m = 0; m < Models; m++)
            {
                allowedSupply += (allowed & (1UL << m)) != 0 ? cluster.DevicesOfModel(m) : 0;
            }

            for (var m = 0; m < Models; m++)
            {
                if ((allowed & (1UL << m)) != 0)
                {
                    _claim[m] += demand * cluster.DevicesOfModel(m) / allowedSupply;
                }
            }
        }

        _anyClaim = false;
        for (var m = 0; m < Models; m++)
        {
            _claim[m] = total > 0 ? _claim[m] / total : 0;
            _anyClaim |= _claim[m] > 0;
        }
    }
}
