using Aicc.Simulation.Replay;

namespace Aicc.Simulation.Tests.Replay;

public sealed class JctBoundsTests
{
    private static JobOutcome Job(double submit, double gpus, double duration) => new("t", gpus, submit, duration, double.NaN, double.NaN, 0);

    [Fact]
    public void Capacity_TwoJobsThatEachNeedTheWholeCluster_OneWaitsForTheOther()
    {
        // SRPT completions 100 and 200, no-queueing completions 100 and 100: (100 + 200) / 2 = 150, which
        // is also the best any schedule does.
        JobOutcome[] jobs = [Job(0, 8, 100), Job(0, 8, 100)];

        Assert.Equal(150, JctBounds.Capacity(jobs, 8), 9);
        Assert.Equal(100, JctBounds.MeanDuration(jobs), 9);
    }

    [Fact]
    public void Capacity_ShortArrivalPreemptsInTheRelaxation_ResponseTimesOfSrpt()
    {
        // One GPU. a (10 s) runs from 0, b (1 s) arrives at 2 and runs 2–3, a ends at 11. Sorted SRPT
        // completions (3, 11), no-queueing completions (3, 10): (3 + 11 − 0 − 2) / 2 = 6.
        JobOutcome[] jobs = [Job(0, 1, 10), Job(2, 1, 1)];

        Assert.Equal(6, JctBounds.Capacity(jobs, 1), 9);
    }

    [Fact]
    public void Capacity_SortedCompletionsCross_AboveBothSeparateBounds()
    {
        // 8 GPUs, all at 0: x and y take the cluster for 10 s each, z takes 1 GPU for 100 s.
        // SRPT on speed 8: works 80, 80, 100 end at 10, 20, 32.5 (mean 20.8); no queueing: 10, 10, 100
        // (mean 40). Pairwise maxima of the sorted sequences: 10, 20, 100, mean 130 / 3 = 43.3. The best
        // schedule (x, y, then z) reaches 50.
        JobOutcome[] jobs = [Job(0, 8, 10), Job(0, 8, 10), Job(0, 1, 100)];

        var bound = JctBounds.Capacity(jobs, 8);

        Assert.Equal(130 / 3.0, bound, 9);
        Assert.True(bound > JctBounds.MeanDuration(jobs));
    }

    [Fact]
    public void Capacity_JobsNeverOverlap_EqualsMeanDuration()
    {
        JobOutcome[] jobs = [Job(0, 4, 100), Job(500, 8, 200), Job(1000, 2, 50)];

        Assert.Equal(JctBounds.MeanDuration(jobs), JctBounds.Capacity(jobs, 8), 9);
    }

    [Fact]
    public void Capacity_OverloadBurst_GrowsWithLessCapacity()
    {
        JobOutcome[] jobs = [.. Enumerable.Range(0, 20).Select(i => Job(i, 1 + (i % 4), 100 + (10 * i)))];

        var small = JctBounds.Capacity(jobs, 4);
        var large = JctBounds.Capacity(jobs, 64);

        Assert.True(small > large, $"{small} on 4 GPUs vs {large} on 64");
        Assert.Equal(JctBounds.MeanDuration(jobs), large, 9);
    }

    [Fact]
    public void Backlog_NarrowLongJobsHoldTheBacklog_AboveTheFastMachine()
    {
        // 2 GPUs. Four 1-GPU jobs of 100 s at 0, a 1 s job at 90. At τ = 90 the fluid queue holds
        // 400 − 2·90 + 1 = 221 GPU-s, of which the jobs must hold 4·10 + 1 = 41 anyway; the other 180
        // sit on 1-GPU jobs and delay them 180 s in all. Mean duration 401 / 5 plus 180 / 5 = 116.2.
        // The fast machine gives 110.5 (sorted maxima 91, 100, 100.5, 150.5, 200.5); the best schedule
        // (evict one job for the short one at 90) reaches 120.6.
        JobOutcome[] jobs = [Job(0, 1, 100), Job(0, 1, 100), Job(0, 1, 100), Job(0, 1, 100), Job(90, 1, 1)];

        Assert.Equal(110.5, JctBounds.FastMachine(jobs, 2), 9);
        Assert.Equal(116.2, JctBounds.Backlog(jobs, 2), 9);
        Assert.Equal(116.2, JctBounds.Capacity(jobs, 2), 9);
    }

    [Fact]
    public void Backlog_NoOverload_EqualsMeanDuration()
    {
        JobOutcome[] jobs = [Job(0, 4, 100), Job(10, 2, 100), Job(20, 2, 50)];

        Assert.Equal(JctBounds.MeanDuration(jobs), JctBounds.Backlog(jobs, 8), 9);
    }
}
