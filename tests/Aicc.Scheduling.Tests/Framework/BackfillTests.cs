using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Framework;

public sealed class BackfillTests
{
    private static SchedulerBuilder EasyCluster() => Make.Scheduler()
        .Nodes(Enumerable.Range(0, 4).Select(i => Make.Node($"n{i}").Gpus(8).Build()))
        .Policy(PluginRegistry.Policies["bestfit"] with { Backfill = "Easy", TieBreak = "First" });

    /// <summary>The reservation check is memoised per placement while nothing is admitted or evicted;
    /// a memo that outlived a change, or matched a different placement, would admit differently.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void RunCycle_EasyBackfillWithMemoisedReservationChecks_DecidesLikeWithout(int seed)
    {
        var memo = EasyCluster().Build();
        var plain = EasyCluster().Build();
        plain.MemoiseReservationChecks = false;
        var random = new Random(seed);
        var running = new List<(string Id, int End)>();
        var next = 0;
        for (var second = 0; second < 300; second++)
        {
            for (var k = random.Next(6); k > 0; k--)
            {
                var spec = Make.Workload($"w{next++}").Pods(1, random.Next(6) switch { 0 => 8, 1 => 6, 2 => 4, 3 => 3, 4 => 2, _ => 1 }).AtSecond(second).Build()
                    with
                { EstimatedDurationSeconds = random.Next(1, 60) };
                memo.Submitted(spec);
                plain.Submitted(spec);
            }

            foreach (var (id, _) in running.Where(r => r.End <= second).ToList())
            {
                Assert.True(memo.Finish(id), $"seed {seed}: {id}");
                Assert.True(plain.Finish(id), $"seed {seed}: {id}");
                running.RemoveAll(r => r.Id == id);
            }

            var a = memo.Cycle(second);
            var b = plain.Cycle(second);
            Assert.Equal(b.Admitted.Select(x => (x.WorkloadId, string.Join(';', x.Pods.Select(p => $"{p.Node}:{string.Join(',', p.Devices)}")))),
                a.Admitted.Select(x => (x.WorkloadId, string.Join(';', x.Pods.Select(p => $"{p.Node}:{string.Join(',', p.Devices)}")))));
            Assert.Equal(b.Waiting, a.Waiting);

            // Runs end a little after their estimate, so estimates are wrong the way real ones are.
            running.AddRange(a.Admitted.Select(x => (x.WorkloadId, second + 1 + (int)(memo.Get(x.WorkloadId)!.Spec.EstimatedDurationSeconds!.Value * 1.2))));
        }

        Assert.True(memo.ReservationCheckHits > 0, $"seed {seed}: the memo never answered, so the test compares nothing");
        Assert.Equal(0, plain.ReservationCheckHits);
    }
}
