using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Tests.Builders;
using Aicc.Scheduling.Tests.Quotas;
using CsCheck;

namespace Aicc.Scheduling.Tests.Framework;

/// <summary>
/// Model-based property test of the whole scheduler: random small worlds (<see cref="Scenario"/>), random
/// operations, and after every cycle every invariant of <see cref="WorldChecker"/>. CsCheck prints the
/// seed of a failing case ("Set seed: ..."); replay it with the environment variable <c>CsCheck_Seed=...</c>.
/// </summary>
public sealed class SchedulerPropertyTests(ITestOutputHelper output)
{
    /// <summary>Scenarios × <see cref="Scenario.StepsPerScenario"/> cycles = 100,000 checked cycles.</summary>
    private const int Scenarios = 5_000;

    [Fact]
    public void RunCycle_RandomOperations_KeepsEveryInvariantAfterEveryCycle()
    {
        long cycles = 0;
        long admissions = 0;
        long evictions = 0;
        long livenessChecks = 0;
        Scenario.Generator.Sample(
            scenario =>
            {
                var stats = Run(scenario);
                Interlocked.Add(ref cycles, stats.Cycles);
                Interlocked.Add(ref admissions, stats.Admissions);
                Interlocked.Add(ref evictions, stats.Evictions);
                Interlocked.Add(ref livenessChecks, stats.LivenessChecks);
            },
            iter: Scenarios,
            print: s => s.ToString());
        output.WriteLine($"checked {cycles:N0} cycles ({admissions:N0} admissions, {evictions:N0} evictions, {livenessChecks:N0} liveness checks)");
        Assert.True(cycles >= 100_000, $"only {cycles} cycles checked");
        Assert.True(admissions > cycles / 10, $"only {admissions} admissions in {cycles} cycles: the generator barely exercises placement");
        Assert.True(evictions > 0 && livenessChecks > 1000, $"evictions {evictions}, liveness checks {livenessChecks}");
    }

    /// <summary>
    /// Regression (CsCheck seed fLYtn0tv5u11): a quota decrease leaves a tree over-committed, and then a queue
    /// nested one cohort down uses its own guaranteed quota. That is allowed, and the checker must accept it:
    /// it once judged lending one node at a time and called this a breach.
    /// </summary>
    [Fact]
    public void RunCycle_TreeOverCommittedByDecrease_StillAdmitsWithinANestedQueuesGuarantee()
    {
        // CPU in units of 4 cores. c0 (root, no CPU quota) ← q0 (8, lends 2) and c1 (1, lends 0) ← q1 (4, lends 1):
        // q1 keeps 3 units (12 cores) guaranteed; c1 keeps its own 1 plus the 1 q1 lends.
        static QuotaDraft Cpu(int nominal, int borrow, int lend) => new(0, nominal, borrow, lend);
        static SubmitOp Submit(int queue, int halfCores) =>
            new(new WorkloadDraft(queue, 0, false, [new PodSetDraft(1, 0, 0, 1, 100, 0, halfCores, 1, 0, 0)]));
        var scenario = new Scenario(
            ModelCount: 1,
            Nodes: [new NodeDraft(0, 0, -1, 0, 0, 32, 64)],
            Cohorts: [new CohortDraft(-1, []), new CohortDraft(0, [Cpu(1, 4, 0)])],
            Queues: [new QueueDraft(0, false, [Cpu(8, 1, 2)]), new QueueDraft(1, false, [Cpu(4, 4, 1)])],
            Policy: Array.IndexOf(Scenario.PolicyNames, "random"),
            MinRuntime: 300,
            Seed: 12801,
            Steps:
            [
                // q0 takes 8 cores, inside its own guarantee of 24.
                new ScenarioStep([Submit(0, 16)], 30),

                // q0 drops to 1 unit with no limits: the tree now promises more than it holds. q1 asks for
                // 10 of its 12 guaranteed cores.
                new ScenarioStep([new QuotaChangeOp(2, [Cpu(1, -1, -1)]), Submit(1, 20)], 30),
            ]);

        var stats = Run(scenario);

        Assert.Equal(2, stats.Admissions);
    }

    internal sealed record Stats(int Cycles, int Admissions, int Evictions, int LivenessChecks);

    /// <summary>Plays one scenario, checking after every operation and cycle.</summary>
    internal static Stats Run(Scenario scenario)
    {
        var setup = scenario.BuildSetup();
        var s = new Scheduler(setup);
        var model = new QuotaModel(setup.Catalog, setup.Cohorts, setup.Queues);
        var checker = new WorldChecker(s, model, scenario.MinRuntime);
        var now = Make.T0;
        var next = 0;
        int cycles = 0, admissions = 0, evictions = 0, liveness = 0;
        for (var step = 0; step < scenario.Steps.Length; step++)
        {
            foreach (var op in scenario.Steps[step].Ops)
            {
                Apply(scenario, s, model, op, now, ref next);
            }

            var before = checker.Capture();
            var result = s.RunCycle(now);
            cycles++;
            admissions += result.Admitted.Count;
            evictions += result.Evicted.Count;
            liveness += before.MustAdmit is null ? 0 : 1;
            checker.AfterCycle(before, result, now, $"step {step} at {now:HH:mm:ss}");
            now = now.AddSeconds(scenario.Steps[step].AdvanceSeconds);
        }

        return new Stats(cycles, admissions, evictions, liveness);
    }

    private static void Apply(Scenario scenario, Scheduler s, QuotaModel model, Op op, DateTimeOffset now, ref int next)
    {
        switch (op)
        {
            case SubmitOp submit:
                {
                    var spec = scenario.BuildWorkload($"w{next++}", submit.Workload, now);
                    var problems = s.Submit(spec);
                    var state = s.Get(spec.Id);
                    Assert.True(problems.Count == 0 ? state?.Phase == WorkloadPhase.Pending : state is null, $"submit {spec.Id}: {problems.Count} problems, state {state?.Phase}");
                    break;
                }

            case FinishOp finish:
                {
                    var admitted = s.Workloads.Where(w => w.Phase == WorkloadPhase.Admitted).Select(w => w.Spec.Id).Order(StringComparer.Ordinal).ToList();
                    if (admitted.Count > 0)
                    {
                        var id = admitted[finish.Pick % admitted.Count];
                        Assert.True(s.Finish(id));
                        Assert.Null(s.Get(id));
                    }

                    break;
                }

            case CancelOp cancel:
                {
                    var pending = s.Workloads.Where(w => w.Phase == WorkloadPhase.Pending).Select(w => w.Spec.Id).Order(StringComparer.Ordinal).ToList();
                    if (pending.Count > 0)
                    {
                        var id = pending[cancel.Pick % pending.Count];
                        Assert.True(s.Finish(id));
                        Assert.Null(s.Get(id));
                    }

                    break;
                }

            case NodeDownOp down:
                {
                    var name = $"n{down.Node % scenario.Nodes.Length}";
                    var requeued = s.NodeDown(name);
                    foreach (var id in requeued)
                    {
                        Assert.Equal(WorkloadPhase.Pending, s.Get(id)!.Phase);
                        Assert.Contains(name, s.Get(id)!.Reason, StringComparison.Ordinal);
                    }

                    Assert.DoesNotContain(s.Workloads, w => w.Phase == WorkloadPhase.Admitted && w.Placements(s.Cluster).Any(p => p.Node == name));
                    break;
                }

            case NodeUpOp up:
                Assert.True(s.SetSchedulable($"n{up.Node % scenario.Nodes.Length}", true));
                break;

            case CordonOp cordon:
                Assert.True(s.SetSchedulable($"n{cordon.Node % scenario.Nodes.Length}", false));
                break;

            case QuotaChangeOp change:
                {
                    var names = model.Names.ToList();
                    var name = names[change.Target % names.Count];
                    var quotas = scenario.BuildQuotas(change.Quotas);
                    Assert.Empty(s.SetQuotas(name, quotas));
                    model.SetQuotas(name, quotas);
                    break;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, "unknown operation");
        }
    }
}
