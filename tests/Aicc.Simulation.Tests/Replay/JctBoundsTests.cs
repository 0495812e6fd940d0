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

    [Fact]
    public void BusyTime_TwoUnitJobsOnOneGpu_ReachesTheOptimum()
    {
        // One runs 0–1, the other 1–2: mean JCT 1.5, and no schedule does better.
        JobOutcome[] jobs = [Job(0, 1, 1), Job(0, 1, 1)];

        var bound = JctBounds.BusyTime(jobs, 1);

        Assert.InRange(bound, 1.45, 1.5 + 1e-9);
    }

    [Fact]
    public void BusyTime_NarrowJobsQueueAtEveryInstant_TighterThanTheCapacityBound()
    {
        // 64 jobs of 1 GPU × 100 s at once on 8 GPUs: eight waves, mean JCT (100 + … + 800) / 8 = 450 at
        // best. The fast single machine lets each job finish in 12.5 s of the whole cluster, so (1+2) is
        // far below; the rate cap of (4) sees the waves (434.6 after the default 150 steps).
        JobOutcome[] jobs = [.. Enumerable.Range(0, 64).Select(_ => Job(0, 1, 100))];

        var capacity = JctBounds.Capacity(jobs, 8);
        var busy = JctBounds.BusyTime(jobs, 8);

        Assert.True(capacity < 420, $"capacity bound {capacity}");
        Assert.InRange(busy, 430, 450 + 1e-9);
    }

    [Fact]
    public void BusyTime_NeverAboveAScheduleThatRespectsCapacity()
    {
        // Property over seeded random traces: the bound stays between the mean duration and the mean JCT
        // of a real (greedy first-come list) schedule, whatever the overload.
        var random = new Random(7);
        for (var trial = 0; trial < 40; trial++)
        {
            var gpus = new[] { 4, 8, 16 }[trial % 3];
            var jobs = Enumerable.Range(0, random.Next(5, 40))
                .Select(_ => Job(random.Next(0, 500), 1 + random.Next(Math.Min(gpus, 8)), 1 + random.Next(300)))
                .OrderBy(j => j.Submit).ToArray();

            var bound = JctBounds.BusyTime(jobs, gpus, iterations: 60, buckets: 50);

            Assert.InRange(bound, JctBounds.MeanDuration(jobs) - 1e-9, ListSchedule(jobs, gpus) + 1e-9);

            // Weak duality, checked closer: a fluid schedule (any rates up to g_j, smallest work first) is
            // feasible for the linear program, so its mean of M_j + p_j/2 − r_j is at least the bound.
            Assert.True(bound <= FluidBusyTime(jobs, gpus) + 1e-6, $"trial {trial}: {bound} above a feasible fluid schedule's {FluidBusyTime(jobs, gpus)}");
        }
    }

    // Mean of M_j + p_j/2 − r_j for the fluid schedule that gives the GPUs to the jobs of least work first,
    // each at most its g_j, event by event (arrivals and completions).
    private static double FluidBusyTime(JobOutcome[] jobs, int gpus)
    {
        var left = jobs.Select(j => j.Gpus * j.Duration).ToArray();
        var busy = new double[jobs.Length];
        var order = Enumerable.Range(0, jobs.Length).OrderBy(i => left[i]).ThenBy(i => i).ToArray();
        var clock = jobs.Min(j => j.Submit);
        while (left.Any(w => w > 1e-9))
        {
            var rates = new double[jobs.Length];
            var free = (double)gpus;
            var step = jobs.Where(j => j.Submit > clock).Select(j => j.Submit - clock).DefaultIfEmpty(double.PositiveInfinity).Min();
            foreach (var i in order.Where(i => jobs[i].Submit <= clock && left[i] > 1e-9))
            {
                rates[i] = Math.Min(jobs[i].Gpus, free);
                free -= rates[i];
                if (rates[i] > 0)
                {
                    step = Math.Min(step, left[i] / rates[i]);
                }
            }

            for (var i = 0; i < jobs.Length; i++)
            {
                busy[i] += rates[i] * step * (clock + (step / 2));
                left[i] -= rates[i] * step;
            }

            clock += step;
        }

        return jobs.Select((j, i) => (busy[i] / (j.Gpus * j.Duration)) + (j.Duration / 2) - j.Submit).Average();
    }

    [Fact]
    public void BusyTime_SmallTraces_NeverAboveTheBestListSchedule()
    {
        // Property over seeded random traces of 3-6 jobs: the bound stays below the best of the list
        // schedules over every job order, which is close to the true optimum on traces this small.
        var random = new Random(11);
        for (var trial = 0; trial < 30; trial++)
        {
            var gpus = trial % 2 == 0 ? 2 : 4;
            var jobs = Enumerable.Range(0, random.Next(3, 7))
                .Select(_ => Job(random.Next(0, 50), 1 + random.Next(gpus), 1 + random.Next(100)))
                .OrderBy(j => j.Submit).ToArray();

            var best = Orders(jobs.Length).Min(order => ListSchedule([.. order.Select(i => jobs[i])], gpus));
            var bound = JctBounds.BusyTime(jobs, gpus, iterations: 100, buckets: 40);

            Assert.True(bound <= best + 1e-9, $"trial {trial}: bound {bound} above the best list schedule {best}");
            Assert.True(bound >= JctBounds.MeanDuration(jobs) - 1e-9);
        }
    }

    private static IEnumerable<int[]> Orders(int n) =>
        n == 0 ? [[]] : Orders(n - 1).SelectMany(rest => Enumerable.Range(0, n).Select(at => (int[])[.. rest[..at], n - 1, .. rest[at..]]));

    // Non-preemptive list scheduling in the given order on a pool of GPUs (nodes ignored): a job starts at the
    // first instant at or after its arrival and the previous job's start when enough GPUs are free.
    private static double ListSchedule(JobOutcome[] jobs, int gpus)
    {
        var running = new List<(double End, double Gpus)>();
        var total = 0.0;
        var clock = 0.0;
        foreach (var job in jobs)
        {
            clock = Math.Max(clock, job.Submit);
            running.RemoveAll(r => r.End <= clock);
            while (gpus - running.Sum(r => r.Gpus) < job.Gpus)
            {
                clock = running.Min(r => r.End);
                running.RemoveAll(r => r.End <= clock);
            }

            running.Add((clock + job.Duration, job.Gpus));
            total += clock + job.Duration - job.Submit;
        }

        return total / jobs.Length;
    }
}
