using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Validation;

/// <summary>One thing wrong with a submission: the field (a JSON-path-like name) and what to do.</summary>
public sealed record ValidationProblem(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>
/// Checks a workload against the catalog, the queues and the cluster before it reaches a cycle. Names
/// every problem at once and never throws; a workload with a problem is never queued.
/// </summary>
public sealed class WorkloadValidator
{
    public const int MaxPodsPerSet = 100_000;
    public const int MaxPodSets = 64;
    public const int MaxNameLength = 253;

    private readonly AcceleratorCatalog _catalog;
    private readonly QuotaTree _quotas;
    private readonly long _maxCpu;
    private readonly long _maxMemory;
    private readonly int[] _maxDevicesOfModel;
    private readonly long[] _maxDeviceMemoryOfModel;

    internal WorkloadValidator(AcceleratorCatalog catalog, QuotaTree quotas, ClusterState cluster)
    {
        _catalog = catalog;
        _quotas = quotas;
        _maxDevicesOfModel = new int[catalog.Count];
        _maxDeviceMemoryOfModel = new long[catalog.Count];
        for (var d = 0; d < cluster.TotalDevices; d++)
        {
            var model = cluster.ModelOf(d);
            _maxDeviceMemoryOfModel[model] = Math.Max(_maxDeviceMemoryOfModel[model], cluster.DeviceMemory[d]);
        }

        Span<int> perModel = stackalloc int[catalog.Count];
        for (var n = 0; n < cluster.NodeCount; n++)
        {
            _maxCpu = Math.Max(_maxCpu, cluster.CpuCapacity[n]);
            _maxMemory = Math.Max(_maxMemory, cluster.MemoryCapacity[n]);
            perModel.Clear();
            for (var d = cluster.FirstDevice(n); d < cluster.FirstDevice(n) + cluster.DevicesOn(n); d++)
            {
                perModel[cluster.ModelOf(d)]++;
            }

            for (var m = 0; m < catalog.Count; m++)
            {
                _maxDevicesOfModel[m] = Math.Max(_maxDevicesOfModel[m], perModel[m]);
            }
        }
    }

    /// <summary>The models a pod set may use: its list (all when empty) with at least its minimum SCU.</summary>
    public ulong ModelMask(PodSetSpec podSet)
    {
        var request = podSet.Accelerator ?? AcceleratorRequest.None;
        var mask = 0UL;
        if (request.AllowedModels is null || request.AllowedModels.Count == 0)
        {
            mask = _catalog.AllModelsMask;
        }
        else
        {
            foreach (var name in request.AllowedModels)
            {
                if (_catalog.TryGet(name, out var type))
                {
                    mask |= 1UL << type.Id;
                }
            }
        }

        for (var m = 0; m < _catalog.Count; m++)
        {
            if (_catalog[m].ScuMilli < request.MinScuMilli)
            {
                mask &= ~(1UL << m);
            }
        }

        return mask;
    }

    public IReadOnlyList<ValidationProblem> Validate(WorkloadSpec spec)
    {
        var problems = new List<ValidationProblem>();
        CheckName(problems, "id", spec.Id);
        if (string.IsNullOrWhiteSpace(spec.Queue))
        {
            problems.Add(new("queue", "is required: name the queue to charge (see `aicc queue list`)"));
        }
        else if (!_quotas.HasQueue(spec.Queue))
        {
            problems.Add(new("queue", $"no queue named '{spec.Queue}'"));
        }

        if (spec.PodSets is null || spec.PodSets.Count == 0)
        {
            problems.Add(new("podSets", "at least one pod set is required"));
            return problems;
        }

        if (spec.PodSets.Count > MaxPodSets)
        {
            problems.Add(new("podSets", $"{spec.PodSets.Count} pod sets; at most {MaxPodSets}"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < spec.PodSets.Count; i++)
        {
            var p = spec.PodSets[i];
            var at = $"podSets[{i}]";
            if (p is null)
            {
                problems.Add(new(at, "is empty"));
                continue;
            }

            CheckName(problems, at + ".name", p.Name);
            if (p.Name is not null && !names.Add(p.Name))
            {
                problems.Add(new(at + ".name", $"'{p.Name}' is used by two pod sets"));
            }

            CheckPodSet(problems, at, p);
        }

        return problems;
    }

    private void CheckPodSet(List<ValidationProblem> problems, string at, PodSetSpec p)
    {
        if (p.Count < 1 || p.Count > MaxPodsPerSet)
        {
            problems.Add(new(at + ".count", $"{p.Count} pods; must be 1..{MaxPodsPerSet}"));
        }

        if (p.MinCount is { } min && (min < 1 || min > p.Count))
        {
            problems.Add(new(at + ".minCount", $"{min}; must be 1..count ({p.Count})"));
        }

        if (p.CpuMilli < 0)
        {
            problems.Add(new(at + ".cpu", "must not be negative"));
        }
        else if (p.CpuMilli > _maxCpu)
        {
            problems.Add(new(at + ".cpu", $"{p.CpuMilli}m is more than any node has ({_maxCpu}m)"));
        }

        if (p.MemoryMiB < 0)
        {
            problems.Add(new(at + ".memory", "must not be negative"));
        }
        else if (p.MemoryMiB > _maxMemory)
        {
            problems.Add(new(at + ".memory", $"{p.MemoryMiB} MiB is more than any node has ({_maxMemory} MiB)"));
        }

        if (p.NodeSelector is null || p.Tolerations is null)
        {
            problems.Add(new(at, "nodeSelector and tolerations must not be null"));
        }

        var a = p.Accelerator;
        if (a is null)
        {
            problems.Add(new(at + ".accelerator", "must not be null (omit it for a CPU-only pod)"));
            return;
        }

        if (a.Count < 0)
        {
            problems.Add(new(at + ".accelerator.count", "must not be negative"));
        }

        if (a.Milli < 0 || a.Milli >= 1000)
        {
            problems.Add(new(at + ".accelerator.milli", $"{a.Milli}; a fraction is 1..999 thousandths of one device (ask for count ≥ 1 for whole devices)"));
        }

        if (a.Count > 0 && a.Milli > 0)
        {
            problems.Add(new(at + ".accelerator", "ask for whole devices (count) or a fraction of one (milli), not both"));
        }

        if (a.MemoryMiB < 0)
        {
            problems.Add(new(at + ".accelerator.memory", "must not be negative"));
        }

        if (a.MinScuMilli < 0)
        {
            problems.Add(new(at + ".accelerator.minScu", "must not be negative"));
        }

        var unknown = (a.AllowedModels ?? []).Where(m => !_catalog.TryGet(m, out _)).ToList();
        if (unknown.Count > 0)
        {
            problems.Add(new(at + ".accelerator.models", $"unknown model(s) {string.Join(", ", unknown.Select(m => $"'{m}'"))}; known: {string.Join(", ", _catalog.Types.Select(t => t.Name))}"));
            return;
        }

        if (a.IsNone || a.Count < 0)
        {
            return;
        }

        var mask = ModelMask(p);
        if (mask == 0)
        {
            problems.Add(new(at + ".accelerator", "no model in the catalog matches both the allowed models and the minimum SCU"));
            return;
        }

        var most = 0;
        for (var m = 0; m < _catalog.Count; m++)
        {
            if ((mask & (1UL << m)) != 0)
            {
                most = Math.Max(most, _maxDevicesOfModel[m]);
            }
        }

        var mostMemory = 0L;
        for (var m = 0; m < _catalog.Count; m++)
        {
            if ((mask & (1UL << m)) != 0)
            {
                mostMemory = Math.Max(mostMemory, _maxDeviceMemoryOfModel[m]);
            }
        }

        if (most > 0 && a.MemoryMiB > mostMemory)
        {
            problems.Add(new(at + ".accelerator.memory", $"{a.MemoryMiB} MiB of device memory, but no device of the allowed models has more than {mostMemory} MiB"));
        }

        if (most == 0)
        {
            problems.Add(new(at + ".accelerator", "no node has a device of the allowed models"));
        }
        else if (a.Count > most)
        {
            problems.Add(new(at + ".accelerator.count", $"{a.Count} devices per pod, but no node has more than {most} of the allowed models; split the pod"));
        }
    }

    private static void CheckName(List<ValidationProblem> problems, string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add(new(field, "is required"));
        }
        else if (value.Length > MaxNameLength)
        {
            problems.Add(new(field, $"{value.Length} characters; at most {MaxNameLength}"));
        }
        else if (value.Any(char.IsControl))
        {
            problems.Add(new(field, "must not contain control characters"));
        }
    }
}
