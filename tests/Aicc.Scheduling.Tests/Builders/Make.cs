using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Tests.Builders;

/// <summary>Entry points of the fluent test builders: <c>Make.Node("n1").Gpus(8, "A100")</c>.</summary>
public static class Make
{
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static NodeBuilder Node(string name) => new(name);

    public static QueueBuilder Queue(string name) => new(name);

    public static CohortBuilder Cohort(string name) => new(name);

    public static WorkloadBuilder Workload(string id, string queue = "q") => new(id, queue);

    public static SchedulerBuilder Scheduler() => new();
}

public sealed class NodeBuilder(string name)
{
    private readonly List<DeviceSpec> _devices = [];
    private readonly Dictionary<string, string> _labels = [];
    private readonly List<Taint> _taints = [];
    private long _cpu = 64_000;
    private long _memory = 512 * 1024;
    private string _rack = "rack-0";
    private string _block = "block-0";
    private bool _schedulable = true;

    /// <summary>Adds <paramref name="count"/> devices of a model; NVLink domains of <paramref name="domainSize"/> (0 = one domain).</summary>
    public NodeBuilder Gpus(int count, string model = "A100", int domainSize = 0, long memoryMiB = 0)
    {
        var firstDomain = _devices.Count == 0 ? 0 : _devices.Max(d => d.Domain) + 1;
        for (var i = 0; i < count; i++)
        {
            _devices.Add(new DeviceSpec(_devices.Count, model, memoryMiB, firstDomain + (domainSize > 0 ? i / domainSize : 0)));
        }

        return this;
    }

    public NodeBuilder Cpu(long milli)
    {
        _cpu = milli;
        return this;
    }

    public NodeBuilder Memory(long mib)
    {
        _memory = mib;
        return this;
    }

    public NodeBuilder Rack(string rack, string block = "block-0")
    {
        _rack = rack;
        _block = block;
        return this;
    }

    public NodeBuilder Label(string key, string value)
    {
        _labels[key] = value;
        return this;
    }

    public NodeBuilder Taint(string key, string value = "")
    {
        _taints.Add(new Taint(key, value));
        return this;
    }

    public NodeBuilder Cordoned()
    {
        _schedulable = false;
        return this;
    }

    public NodeSpec Build() => new()
    {
        Name = name,
        CpuMilli = _cpu,
        MemoryMiB = _memory,
        Devices = [.. _devices],
        Labels = new Dictionary<string, string>(_labels),
        Taints = [.. _taints],
        Rack = _rack,
        Block = _block,
        Schedulable = _schedulable,
    };

    public static implicit operator NodeSpec(NodeBuilder builder) => builder.Build();
}

public sealed class QueueBuilder(string name)
{
    private readonly Dictionary<string, ResourceQuota> _quotas = [];
    private string? _cohort;
    private QueueingStrategy _strategy = QueueingStrategy.BestEffortFifo;
    private double _weight = 1;

    /// <summary>Quota of whole devices of a model (converted to milli-devices).</summary>
    public QueueBuilder Gpus(string model, int nominal, int? borrowingLimit = null, int? lendingLimit = null)
    {
        _quotas[ResourceNames.Accelerator(model)] = ResourceQuota.Devices(nominal, borrowingLimit, lendingLimit);
        return this;
    }

    public QueueBuilder Quota(string key, long nominal, long? borrowingLimit = null, long? lendingLimit = null)
    {
        _quotas[key] = new ResourceQuota(nominal, borrowingLimit, lendingLimit);
        return this;
    }

    public QueueBuilder InCohort(string cohort)
    {
        _cohort = cohort;
        return this;
    }

    public QueueBuilder StrictFifo()
    {
        _strategy = QueueingStrategy.StrictFifo;
        return this;
    }

    public QueueBuilder Weight(double weight)
    {
        _weight = weight;
        return this;
    }

    public QueueSpec Build() => new()
    {
        Name = name,
        Tenant = name,
        Cohort = _cohort,
        Strategy = _strategy,
        Quotas = new Dictionary<string, ResourceQuota>(_quotas),
        FairWeight = _weight,
    };

    public static implicit operator QueueSpec(QueueBuilder builder) => builder.Build();
}

public sealed class CohortBuilder(string name)
{
    private readonly Dictionary<string, ResourceQuota> _quotas = [];
    private string? _parent;

    public CohortBuilder Gpus(string model, int nominal, int? borrowingLimit = null, int? lendingLimit = null)
    {
        _quotas[ResourceNames.Accelerator(model)] = ResourceQuota.Devices(nominal, borrowingLimit, lendingLimit);
        return this;
    }

    public CohortBuilder Quota(string key, long nominal, long? borrowingLimit = null, long? lendingLimit = null)
    {
        _quotas[key] = new ResourceQuota(nominal, borrowingLimit, lendingLimit);
        return this;
    }

    public CohortBuilder Under(string parent)
    {
        _parent = parent;
        return this;
    }

    public CohortSpec Build() => new() { Name = name, Parent = _parent, Quotas = new Dictionary<string, ResourceQuota>(_quotas) };

    public static implicit operator CohortSpec(CohortBuilder builder) => builder.Build();
}

public sealed class WorkloadBuilder(string id, string queue)
{
    private readonly List<PodSetSpec> _podSets = [];
    private int _priority;
    private bool _preemptible = true;
    private DateTimeOffset _submittedAt = Make.T0;

    /// <summary>Adds a pod set of <paramref name="count"/> pods, each with <paramref name="gpus"/> whole devices.</summary>
    public WorkloadBuilder Pods(int count, int gpus, string? models = null, long cpu = 1000, long memory = 1024, int? minCount = null, string? name = null) =>
        Add(new PodSetSpec
        {
            Name = name ?? $"ps{_podSets.Count}",
            Count = count,
            MinCount = minCount,
            CpuMilli = cpu,
            MemoryMiB = memory,
            Accelerator = gpus == 0 ? AcceleratorRequest.None : AcceleratorRequest.Whole(gpus, [.. AcceleratorRequest.ParseModels(models)]),
        });

    /// <summary>Adds a pod set of <paramref name="count"/> pods, each with a <paramref name="milli"/>/1000 share of one device.</summary>
    public WorkloadBuilder Shares(int count, int milli, string? models = null, long cpu = 1000, long memory = 1024, long deviceMemory = 0, string? name = null) =>
        Add(new PodSetSpec
        {
            Name = name ?? $"ps{_podSets.Count}",
            Count = count,
            CpuMilli = cpu,
            MemoryMiB = memory,
            Accelerator = new AcceleratorRequest { Milli = milli, MemoryMiB = deviceMemory, AllowedModels = AcceleratorRequest.ParseModels(models) },
        });

    public WorkloadBuilder Add(PodSetSpec podSet)
    {
        _podSets.Add(podSet);
        return this;
    }

    public WorkloadBuilder Priority(int priority)
    {
        _priority = priority;
        return this;
    }

    public WorkloadBuilder NotPreemptible()
    {
        _preemptible = false;
        return this;
    }

    public WorkloadBuilder At(DateTimeOffset submittedAt)
    {
        _submittedAt = submittedAt;
        return this;
    }

    public WorkloadBuilder AtSecond(int second) => At(Make.T0.AddSeconds(second));

    public WorkloadSpec Build() => new()
    {
        Id = id,
        Tenant = queue,
        Queue = queue,
        Priority = _priority,
        Preemptible = _preemptible,
        PodSets = [.. _podSets],
        SubmittedAt = _submittedAt,
    };

    public static implicit operator WorkloadSpec(WorkloadBuilder builder) => builder.Build();
}

public sealed class SchedulerBuilder
{
    private readonly List<NodeSpec> _nodes = [];
    private readonly List<QueueSpec> _queues = [];
    private readonly List<CohortSpec> _cohorts = [];
    private PolicySpec _policy = PluginRegistry.Policies["bestfit"];
    private ulong _seed = 42;

    public SchedulerBuilder Node(NodeSpec node)
    {
        _nodes.Add(node);
        return this;
    }

    public SchedulerBuilder Nodes(IEnumerable<NodeSpec> nodes)
    {
        _nodes.AddRange(nodes);
        return this;
    }

    public SchedulerBuilder Queue(QueueSpec queue)
    {
        _queues.Add(queue);
        return this;
    }

    public SchedulerBuilder Cohort(CohortSpec cohort)
    {
        _cohorts.Add(cohort);
        return this;
    }

    public SchedulerBuilder Policy(string name)
    {
        _policy = PluginRegistry.Policies[name];
        return this;
    }

    public SchedulerBuilder Policy(PolicySpec policy)
    {
        _policy = policy;
        return this;
    }

    public SchedulerBuilder Preemption(PreemptionSpec preemption)
    {
        _policy = _policy with { Preemption = preemption };
        return this;
    }

    public SchedulerBuilder Seed(ulong seed)
    {
        _seed = seed;
        return this;
    }

    public SchedulerSetup Setup() => new()
    {
        Catalog = ClusterBuilder.DefaultCatalog(),
        Nodes = [.. _nodes],
        Queues = _queues.Count == 0 ? [new QueueSpec { Name = "q" }] : [.. _queues],
        Cohorts = [.. _cohorts],
        Policy = _policy,
        Seed = _seed,
    };

    public Scheduler Build() => new(Setup());
}
