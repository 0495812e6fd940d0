using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Tests.Builders;

/// <summary>Small fluent builders for scheduler tests: nodes, workloads, queues and a scheduler.</summary>
internal static class Make
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static AcceleratorCatalog Catalog() => ClusterBuilder.DefaultCatalog();

    public static NodeSpec Node(string name, int gpus = 8, string model = "A100", long cpu = 64_000, long memory = 262_144, string rack = "r0", string block = "b0", int domainSize = 4) => new()
    {
        Name = name,
        CpuMilli = cpu,
        MemoryMiB = memory,
        Devices = NodeSpec.UniformDevices(gpus, model, 0, domainSize),
        Rack = rack,
        Block = block,
    };

    public static PodSetSpec Pods(int count = 1, int gpus = 0, int milli = 0, long cpu = 1000, long memory = 1024, string name = "main", int? minCount = null, params string[] models) => new()
    {
        Name = name,
        Count = count,
        MinCount = minCount,
        CpuMilli = cpu,
        MemoryMiB = memory,
        Accelerator = gpus > 0 ? AcceleratorRequest.Whole(gpus, models) : milli > 0 ? AcceleratorRequest.Fraction(milli, models) : AcceleratorRequest.None,
    };

    public static WorkloadSpec Job(string id, string queue = "q", int priority = 0, bool preemptible = true, int secondsAfterT0 = 0, params PodSetSpec[] podSets) => new()
    {
        Id = id,
        Queue = queue,
        Priority = priority,
        Preemptible = preemptible,
        PodSets = podSets.Length == 0 ? [Pods(gpus: 1)] : podSets,
        SubmittedAt = T0.AddSeconds(secondsAfterT0),
    };

    public static QueueSpec Queue(string name = "q", string? cohort = null, QueueingStrategy strategy = QueueingStrategy.BestEffortFifo, params (string Key, ResourceQuota Quota)[] quotas) => new()
    {
        Name = name,
        Cohort = cohort,
        Strategy = strategy,
        Quotas = quotas.ToDictionary(q => q.Key, q => q.Quota),
    };

    public static Scheduler Scheduler(IReadOnlyList<NodeSpec> nodes, IReadOnlyList<QueueSpec>? queues = null, IReadOnlyList<CohortSpec>? cohorts = null, PolicySpec? policy = null, ulong seed = 42) => new(new SchedulerSetup
    {
        Catalog = Catalog(),
        Nodes = nodes,
        Queues = queues ?? [Queue()],
        Cohorts = cohorts ?? [],
        Policy = policy ?? PluginRegistry.Policies["bestfit"],
        Seed = seed,
    });

    /// <summary>Submits and asserts that the submission was accepted.</summary>
    public static void Accept(this Scheduler scheduler, WorkloadSpec spec)
    {
        var problems = scheduler.Submit(spec);
        Assert.True(problems.Count == 0, $"submission of {spec.Id} was rejected: {string.Join("; ", problems)}");
    }
}
