using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using CsCheck;

namespace Aicc.Scheduling.Tests.Framework;

/// <summary>A quota entry in generator units: key 0 cpu, 1 memory, 2 scu, 3+ accelerator model; -1 = no limit.</summary>
internal sealed record QuotaDraft(int Key, int Nominal, int Borrow, int Lend);

internal sealed record NodeDraft(int Devices, int Model, int SecondModel, int DomainSize, int Rack, int CpuCores, int MemoryGiB);

internal sealed record CohortDraft(int Parent, QuotaDraft[] Quotas);

internal sealed record QueueDraft(int Cohort, bool Strict, QuotaDraft[] Quotas);

internal sealed record PodSetDraft(int Count, int Min, int Kind, int Gpus, int Milli, int Models, int HalfCores, int MemoryGiB, int DeviceMemory, int MinScu);

internal sealed record WorkloadDraft(int Queue, int Priority, bool Preemptible, PodSetDraft[] PodSets);

internal abstract record Op;

internal sealed record SubmitOp(WorkloadDraft Workload) : Op;

internal sealed record FinishOp(int Pick) : Op;

internal sealed record CancelOp(int Pick) : Op;

internal sealed record NodeDownOp(int Node) : Op;

internal sealed record NodeUpOp(int Node) : Op;

internal sealed record CordonOp(int Node) : Op;

internal sealed record QuotaChangeOp(int Target, QuotaDraft[] Quotas) : Op;

/// <summary>Operations, then one cycle after <see cref="AdvanceSeconds"/> of fake time.</summary>
internal sealed record ScenarioStep(Op[] Ops, int AdvanceSeconds);

/// <summary>
/// A small random world for the scheduler's property tests: 1–3 accelerator models, 1–4 nodes of 0–8
/// devices in NVLink domains and up to 3 racks, up to 3 cohorts in a tree and 1–3 queues, a policy and a
/// sequence of steps that each end with a cycle.
/// </summary>
internal sealed record Scenario(int ModelCount, NodeDraft[] Nodes, CohortDraft[] Cohorts, QueueDraft[] Queues, int Policy, int MinRuntime, ulong Seed, ScenarioStep[] Steps)
{
    /// <summary>Cluster models, as catalog names: SCU weights 1000, 250 and 3000.</summary>
    public static readonly string[] ModelNames = ["A100", "T4", "H100"];

    public static readonly string[] PolicyNames = ["bestfit", "fgd", "aicc", "random", "gpupacking", "spread", "dotprod", "gpuclustering"];

    public static readonly int[] MinRuntimes = [0, 0, 300];

    public static readonly int[] DomainSizes = [0, 1, 2, 4];

    public static readonly int[] Millis = [100, 250, 333, 500, 600, 999];

    public const int StepsPerScenario = 20;

    private static readonly Gen<QuotaDraft> QuotaGen =
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 8], Gen.Int[-1, 4], Gen.Int[-1, 6], (k, n, b, l) => new QuotaDraft(k, n, b, l));

    private static readonly Gen<NodeDraft> NodeGen = Gen.Select(
        Gen.Int[0, 8], Gen.Int[0, 2], Gen.Int[-1, 2], Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[0, 2],
        (d, m, m2, dom, rack, cpu, mem) => new NodeDraft(d, m, m2, DomainSizes[dom], rack, 8 << cpu, 32 << mem));

    private static readonly Gen<PodSetDraft> PodSetGen = Gen.Select(
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[1, 4]),
        Gen.Select(Gen.Int[0, 6], Gen.Int[0, 7], Gen.Int[0, 8], Gen.Int[0, 8]),
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 5]),
        (a, b, c) => new PodSetDraft(a.Item1, a.Item2, a.Item3, a.Item4, b.Item1 == 6 ? 1 + (b.Item2 * 137 % 999) : Millis[b.Item1], b.Item2, b.Item3, b.Item4, c.Item1, c.Item2));

    private static readonly Gen<WorkloadDraft> WorkloadGen = Gen.Select(
        Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 4], PodSetGen.Array[1, 2],
        (q, p, np, sets) => new WorkloadDraft(q, p, np != 0, sets));

    private static readonly Gen<Op> OpGen = Gen.Frequency(
        (6, WorkloadGen.Select(w => (Op)new SubmitOp(w))),
        (3, Gen.Int[0, 99].Select(p => (Op)new FinishOp(p))),
        (1, Gen.Int[0, 99].Select(p => (Op)new CancelOp(p))),
        (1, Gen.Int[0, 3].Select(n => (Op)new NodeDownOp(n))),
        (1, Gen.Int[0, 3].Select(n => (Op)new NodeUpOp(n))),
        (1, Gen.Int[0, 3].Select(n => (Op)new CordonOp(n))),
        (1, Gen.Select(Gen.Int[0, 5], QuotaGen.Array[0, 3], (t, q) => (Op)new QuotaChangeOp(t, q))));

    private static readonly Gen<ScenarioStep> StepGen = Gen.Select(OpGen.Array[0, 3], Gen.OneOfConst(0, 1, 30, 600), (ops, dt) => new ScenarioStep(ops, dt));

    public static readonly Gen<Scenario> Generator = Gen.Select(
        Gen.Int[1, 3],
        NodeGen.Array[1, 4],
        Gen.Select(Gen.Int[-1, 2], QuotaGen.Array[0, 2], (p, q) => new CohortDraft(p, q)).Array[0, 3],
        Gen.Select(Gen.Int[-1, 2], Gen.Int[0, 3], QuotaGen.Array[0, 3], (c, s, q) => new QueueDraft(c, s == 0, q)).Array[1, 3],
        Gen.Int[0, PolicyNames.Length - 1],
        Gen.Int[0, MinRuntimes.Length - 1],
        Gen.ULong,
        StepGen.Array[StepsPerScenario],
        (m, n, c, q, p, r, seed, steps) => new Scenario(m, n, c, q, p, MinRuntimes[r], seed, steps));

    public static string CohortName(int i) => $"c{i}";

    public static string QueueName(int i) => $"q{i}";

    public IReadOnlyList<NodeSpec> BuildNodes()
    {
        var nodes = new List<NodeSpec>();
        for (var i = 0; i < Nodes.Length; i++)
        {
            var d = Nodes[i];
            var model = ModelNames[d.Model % ModelCount];
            var second = d.SecondModel < 0 ? model : ModelNames[d.SecondModel % ModelCount];
            var devices = new List<DeviceSpec>();
            for (var k = 0; k < d.Devices; k++)
            {
                devices.Add(new DeviceSpec(k, k < (d.Devices + 1) / 2 ? model : second, 0, d.DomainSize > 0 ? k / d.DomainSize : 0));
            }

            nodes.Add(new NodeSpec
            {
                Name = $"n{i}",
                CpuMilli = d.CpuCores * 1000L,
                MemoryMiB = d.MemoryGiB * 1024L,
                Devices = devices,
                Rack = $"r{d.Rack}",
                Block = d.Rack < 2 ? "b0" : "b1",
            });
        }

        return nodes;
    }

    public Dictionary<string, ResourceQuota> BuildQuotas(IEnumerable<QuotaDraft> drafts)
    {
        var quotas = new Dictionary<string, ResourceQuota>(StringComparer.Ordinal);
        foreach (var q in drafts)
        {
            var (key, unit) = q.Key switch
            {
                0 => (ResourceNames.Cpu, 4000L),
                1 => (ResourceNames.Memory, 16_384L),
                2 => (ResourceNames.Scu, 500L),
                _ => (ResourceNames.Accelerator(ModelNames[(q.Key - 3) % ModelCount]), 500L),
            };
            quotas[key] = new ResourceQuota(q.Nominal * unit, q.Borrow < 0 ? null : q.Borrow * unit, q.Lend < 0 ? null : q.Lend * unit);
        }

        return quotas;
    }

    public IReadOnlyList<CohortSpec> BuildCohorts() =>
        [.. Cohorts.Select((c, i) => new CohortSpec { Name = CohortName(i), Parent = c.Parent >= 0 && c.Parent < i ? CohortName(c.Parent) : null, Quotas = BuildQuotas(c.Quotas) })];

    public IReadOnlyList<QueueSpec> BuildQueues() =>
        [.. Queues.Select((q, i) => new QueueSpec
        {
            Name = QueueName(i),
            Tenant = QueueName(i),
            Cohort = q.Cohort >= 0 && q.Cohort < Cohorts.Length ? CohortName(q.Cohort) : null,
            Strategy = q.Strict ? QueueingStrategy.StrictFifo : QueueingStrategy.BestEffortFifo,
            Quotas = BuildQuotas(q.Quotas),
        })];

    public SchedulerSetup BuildSetup() => new()
    {
        Catalog = ClusterBuilder.DefaultCatalog(),
        Nodes = BuildNodes(),
        Queues = BuildQueues(),
        Cohorts = BuildCohorts(),
        Policy = PluginRegistry.Policies[PolicyNames[Policy]] with { Preemption = new PreemptionSpec { MinRuntimeSeconds = MinRuntime } },
        Seed = Seed,
    };

    public WorkloadSpec BuildWorkload(string id, WorkloadDraft w, DateTimeOffset now)
    {
        var podSets = new List<PodSetSpec>();
        for (var i = 0; i < w.PodSets.Length; i++)
        {
            var p = w.PodSets[i];
            var models = new List<string>();
            for (var m = 0; m < ModelCount; m++)
            {
                if ((p.Models & (1 << m)) != 0)
                {
                    models.Add(ModelNames[m]);
                }
            }

            var accelerator = p.Kind switch
            {
                0 => AcceleratorRequest.None,
                1 => new AcceleratorRequest { Count = p.Gpus, AllowedModels = models, MinScuMilli = p.MinScu == 5 ? 1000 : 0 },
                _ => new AcceleratorRequest { Milli = p.Milli, AllowedModels = models, MemoryMiB = p.DeviceMemory switch { 4 => 8192, 5 => 20_000, _ => 0 }, MinScuMilli = p.MinScu == 5 ? 1000 : 0 },
            };
            podSets.Add(new PodSetSpec
            {
                Name = $"ps{i}",
                Count = p.Count,
                MinCount = p.Min == 0 ? null : Math.Min(p.Min, p.Count),
                CpuMilli = p.HalfCores * 500L,
                MemoryMiB = p.MemoryGiB * 1024L,
                Accelerator = accelerator,
            });
        }

        return new WorkloadSpec
        {
            Id = id,
            Tenant = QueueName(w.Queue % Queues.Length),
            Queue = QueueName(w.Queue % Queues.Length),
            Priority = w.Priority,
            Preemptible = w.Preemptible,
            PodSets = podSets,
            SubmittedAt = now,
        };
    }

    public override string ToString() =>
        $"models={ModelCount} nodes=[{string.Join("; ", Nodes.Select(n => n.ToString()))}] cohorts=[{string.Join("; ", Cohorts.Select(c => $"parent {c.Parent} {string.Join(",", c.Quotas.Select(q => q.ToString()))}"))}] " +
        $"queues=[{string.Join("; ", Queues.Select(q => $"cohort {q.Cohort} strict {q.Strict} {string.Join(",", q.Quotas.Select(x => x.ToString()))}"))}] policy={PolicyNames[Policy]} minRuntime={MinRuntime} seed={Seed} steps={Steps.Length}";
}
