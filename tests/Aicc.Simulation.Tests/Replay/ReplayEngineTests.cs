using Aicc.Simulation.Replay;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Tests.Replay;

public sealed class ReplayEngineTests
{
    private static JobTrace Generated(int jobs, ulong seed)
    {
        var random = new Random((int)seed);
        var t = 0.0;
        var list = new List<TraceJob>();
        for (var i = 0; i < jobs; i++)
        {
            t += random.NextDouble() * 60;
            var gpus = random.Next(10) switch { < 6 => 1, < 8 => 2, 8 => 4, _ => 8 };
            list.Add(new TraceJob
            {
                Id = $"j{i}",
                Tenant = $"t{random.Next(3)}",
                SubmitSeconds = Math.Round(t),
                DurationSeconds = Math.Round(30 + (random.NextDouble() * random.NextDouble() * 3000)),
                Gpus = gpus,
            });
        }

        return new JobTrace("generated", "aicc", list);
    }

    private static ReplayRun Run(JobTrace trace, string policy, int gpus = 32) => ReplayEngine.Run(new ReplayOptions
    {
        Trace = trace,
        Cluster = ReplayCluster.Uniform(gpus, 8, "A100"),
        Policy = ReplayPolicy.Find(policy)!,
    });

    public static TheoryData<string> Policies => [.. ReplayPolicy.All.Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Policies))]
    public void Run_EveryPolicy_FinishesAllJobsWithinInvariants(string policy)
    {
        const ulong seed = 7;
        var trace = Generated(300, seed);
        var run = Run(trace, policy);
        Assert.True(run.Violations.Count == 0, $"seed {seed}: {string.Join("; ", run.Violations)}");
        Assert.All(run.Jobs, j =>
        {
            Assert.True(j.Finished, $"seed {seed}: a job did not finish");
            Assert.True(j.FirstStart >= j.Submit, $"seed {seed}: started before it arrived");
            Assert.True(j.Jct >= j.Duration - 1e-6, $"seed {seed}: ran faster than its duration");
        });
        var summary = ReplayReport.Summarize(run);
        Assert.True(summary.AvgJctSeconds >= summary.JctLowerBoundSeconds - 1e-6);
        Assert.True(summary.AvgJctSeconds >= summary.JctCapacityBoundSeconds - 1e-6, $"seed {seed}: {summary.AvgJctSeconds} below the capacity bound {summary.JctCapacityBoundSeconds}");
        Assert.True(summary.JctCapacityBoundSeconds >= summary.JctLowerBoundSeconds - 1e-6);
        Assert.InRange(summary.GpuUtilPercent, 0.01, 100);
    }

    [Fact]
    public void Run_ClusterNeverBusy_JctEqualsDuration()
    {
        var trace = new JobTrace("t", "aicc", Enumerable.Range(0, 5).Select(i => new TraceJob { Id = $"j{i}", Tenant = "a", SubmitSeconds = i * 1000, DurationSeconds = 100, Gpus = 8 }));
        var run = Run(trace, "fifo");
        Assert.All(run.Jobs, j => Assert.Equal(100, j.Jct, 6));
    }

    [Fact]
    public void Run_TwoJobsNeedTheWholeCluster_SecondWaitsForFirst()
    {
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "a", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 500, Gpus = 16 },
            new TraceJob { Id = "b", Tenant = "x", SubmitSeconds = 10, DurationSeconds = 100, Gpus = 16 },
        ]);
        var run = Run(trace, "fifo", gpus: 16);
        Assert.Equal(500, run.Jobs[1].FirstStart, 6);
        Assert.Equal(600, run.Jobs[1].End, 6);
    }

    [Fact]
    public void Run_SjfOracle_ShortJobPassesLongOneInQueue()
    {
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "running", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 100, Gpus = 8 },
            new TraceJob { Id = "long", Tenant = "x", SubmitSeconds = 1, DurationSeconds = 1000, Gpus = 8 },
            new TraceJob { Id = "short", Tenant = "x", SubmitSeconds = 2, DurationSeconds = 10, Gpus = 8 },
        ]);
        var fifo = Run(trace, "fifo", gpus: 8);
        var sjf = Run(trace, "sjf-oracle", gpus: 8);
        Assert.Equal(1100, fifo.Jobs[2].FirstStart, 6);
        Assert.Equal(100, sjf.Jobs[2].FirstStart, 6);
    }

    [Fact]
    public void Run_SrtfWide_WideJobRanksByRemainingTimeOverRootOfItsGpus()
    {
        // One 8-GPU node. SRTF runs the 1-GPU 300 s job first and the 8-GPU 400 s gang waits for the
        // node; srtf-wide ranks the gang at 400 / √8 ≈ 141 s, ahead of it.
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "narrow", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 300, Gpus = 1 },
            new TraceJob { Id = "wide", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 400, Gpus = 8 },
        ]);
        var srtf = Run(trace, "srtf-oracle", gpus: 8);
        var wide = Run(trace, "srtf-wide", gpus: 8);
        Assert.Equal(300, srtf.Jobs[1].FirstStart, 6);
        Assert.Equal(0, wide.Jobs[1].FirstStart, 6);
        Assert.Equal(400, wide.Jobs[0].FirstStart, 6);
    }

    [Fact]
    public void Run_Las_NewJobPreemptsLongRunningOneWhichResumesWithItsProgress()
    {
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "long", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 10_000, Gpus = 8 },
            new TraceJob { Id = "new", Tenant = "x", SubmitSeconds = 5000, DurationSeconds = 100, Gpus = 8 },
        ]);
        var run = Run(trace, "las", gpus: 8);
        Assert.Equal(5000, run.Jobs[1].FirstStart, 6);
        Assert.Equal(1, run.Jobs[0].Evictions);
        Assert.Equal(10_100, run.Jobs[0].End, 6);
    }

    [Fact]
    public void Run_Las_PreemptedJobKeepsItsLevelAndWaitsBehindLessServedOnes()
    {
        // long has 40,000 GPU-s (level 2) when new evicts it at 5000 s. third arrives at 5050 s with none
        // (level 0), so it runs when new ends at 5100 s and long resumes after it. A victim that lost its
        // attained service would come back at level 0 and, submitted first, pass third.
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "long", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 10_000, Gpus = 8 },
            new TraceJob { Id = "new", Tenant = "x", SubmitSeconds = 5000, DurationSeconds = 100, Gpus = 8 },
            new TraceJob { Id = "third", Tenant = "x", SubmitSeconds = 5050, DurationSeconds = 1000, Gpus = 8 },
        ]);
        var run = Run(trace, "las", gpus: 8);
        Assert.Equal(5100, run.Jobs[2].FirstStart, 6);
        Assert.Equal(1, run.Jobs[0].Evictions);
        Assert.Equal(11_100, run.Jobs[0].End, 6);
        Assert.Equal(1, run.Preemptions);
    }

    [Fact]
    public void Run_SrtfOracle_PreemptedJobWaitsWithTheTimeItHasLeft()
    {
        // short evicts long at 600 s (100 s left against 400). While it waits, long's key is the 400 s it
        // has left, so it resumes before other (700 s) when short ends at 700 s. A key that forgot the
        // earlier run (1,000 s) would let other pass it.
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "long", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 1000, Gpus = 8 },
            new TraceJob { Id = "short", Tenant = "x", SubmitSeconds = 600, DurationSeconds = 100, Gpus = 8 },
            new TraceJob { Id = "other", Tenant = "x", SubmitSeconds = 650, DurationSeconds = 700, Gpus = 8 },
        ]);
        var run = Run(trace, "srtf-oracle", gpus: 8);
        Assert.Equal(1, run.Jobs[0].Evictions);
        Assert.Equal(1100, run.Jobs[0].End, 6);
        Assert.Equal(1100, run.Jobs[2].FirstStart, 6);
        Assert.Equal(1, run.Preemptions);
    }

    [Fact]
    public void Run_SrsfOracle_NarrowJobOfLessServicePassesWideShorterOne()
    {
        // wide: 8 GPUs × 50 s = 400 GPU-s; narrow: 1 GPU × 100 s = 100 GPU-s. SRTF serves the shorter
        // time (wide) first when the blocker ends at 10 s; SRSF the smaller service (narrow).
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "blocker", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 10, Gpus = 8 },
            new TraceJob { Id = "wide", Tenant = "x", SubmitSeconds = 1, DurationSeconds = 50, Gpus = 8 },
            new TraceJob { Id = "narrow", Tenant = "x", SubmitSeconds = 2, DurationSeconds = 100, Gpus = 1 },
        ]);
        var srtf = Run(trace, "srtf-oracle", gpus: 8);
        var srsf = Run(trace, "srsf-oracle", gpus: 8);
        Assert.Equal(10, srtf.Jobs[1].FirstStart, 6);
        Assert.Equal(60, srtf.Jobs[2].FirstStart, 6);
        Assert.Equal(10, srsf.Jobs[2].FirstStart, 6);
        Assert.Equal(110, srsf.Jobs[1].FirstStart, 6);
        Assert.Equal(0, srsf.Preemptions);
    }

    [Fact]
    public void Run_Easy_BackfillsOnlyJobsThatEndBeforeTheReservation()
    {
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "a", Tenant = "x", SubmitSeconds = 0, DurationSeconds = 1000, Gpus = 8 },
            new TraceJob { Id = "head", Tenant = "x", SubmitSeconds = 1, DurationSeconds = 100, Gpus = 16 },
            new TraceJob { Id = "fits", Tenant = "x", SubmitSeconds = 2, DurationSeconds = 500, Gpus = 8 },
            new TraceJob { Id = "too-long", Tenant = "x", SubmitSeconds = 3, DurationSeconds = 5000, Gpus = 8 },
        ]);
        var easy = Run(trace, "easy", gpus: 16);
        Assert.Equal(2, easy.Jobs[2].FirstStart, 6);
        Assert.Equal(1000, easy.Jobs[1].FirstStart, 6);
        Assert.True(easy.Jobs[3].FirstStart >= 1100, $"too-long started at {easy.Jobs[3].FirstStart}");
    }

    [Fact]
    public void Summarize_JobWiderThanTheQuota_IsLeftOutOfTheSharedSideOfTheRatio()
    {
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "s1", Tenant = "a", SubmitSeconds = 0, DurationSeconds = 100, Gpus = 1 },
            new TraceJob { Id = "wide", Tenant = "a", SubmitSeconds = 1, DurationSeconds = 100, Gpus = 16 },
            new TraceJob { Id = "s2", Tenant = "a", SubmitSeconds = 2, DurationSeconds = 100, Gpus = 1 },
        ]);
        var options = new ReplayOptions { Trace = trace, Cluster = ReplayCluster.Uniform(16, 8, "A100"), Policy = ReplayPolicy.Find("quota")! };
        var run = ReplayEngine.Run(options);
        var alone = ReplayReport.RunPrivateClusters(options, new Dictionary<string, int> { ["a"] = 8 });

        var tenant = Assert.Single(ReplayReport.Summarize(run, alone).PerTenant);

        Assert.Equal(1, tenant.PrivateUnrunnableJobs);
        Assert.Equal(101 / 3.0, tenant.AvgQueueSeconds, 6);
        Assert.Equal(0, tenant.ComparableAvgQueueSeconds!.Value, 6);
        Assert.Equal(1, tenant.Ratio!.Value, 6);
    }

    [Fact]
    public void Run_SameInputs_SameOutcome()
    {
        var trace = Generated(200, 11);
        var a = Run(trace, "drf");
        var b = Run(trace, "drf");
        Assert.Equal(a.Jobs, b.Jobs);
    }

    [Fact]
    public void QuotaShares_SplitsGpusByDemandAndSumsToCluster()
    {
        var trace = new JobTrace("t", "aicc",
        [
            new TraceJob { Id = "a", Tenant = "big", SubmitSeconds = 0, DurationSeconds = 300, Gpus = 1 },
            new TraceJob { Id = "b", Tenant = "small", SubmitSeconds = 0, DurationSeconds = 100, Gpus = 1 },
        ]);
        var quotas = ReplayEngine.QuotaShares(trace, 10);
        Assert.Equal(10, quotas.Values.Sum());
        Assert.True(quotas["big"] > quotas["small"]);
    }

    [Theory]
    [InlineData(1, 8, 1)]
    [InlineData(16, 8, 2)]
    [InlineData(12, 8, 2)]
    [InlineData(7, 8, 1)]
    public void PodsFor_SplitsGangIntoEqualNodeSizedPods(int gpus, int perNode, int pods) =>
        Assert.Equal(pods, ReplayEngine.PodsFor(gpus, perNode));

    [Fact]
    public void ForLoad_SizesClusterToOfferedLoad()
    {
        var trace = new JobTrace("t", "aicc", Enumerable.Range(0, 11).Select(i => new TraceJob { Id = $"j{i}", Tenant = "a", SubmitSeconds = i * 100, DurationSeconds = 800, Gpus = 1 }));
        var cluster = ReplayCluster.ForLoad(trace, 0.5, 8, "A100");
        Assert.Equal(24, cluster.TotalGpus);
    }
}
