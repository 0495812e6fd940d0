using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Framework;

public sealed class PendingOrderTests
{
    private static WorkloadState Waiting(long sequence, int priority, double sortKey, int second)
    {
        var spec = Make.Workload($"w{sequence}").Pods(1, 1).Priority(priority).AtSecond(second).Build();
        return new WorkloadState(spec, 0, sequence, [1UL]) { SortKey = sortKey };
    }

    private static List<WorkloadState> Items(PendingOrder order) => [.. Enumerable.Range(0, order.Count).Select(i => order[i])];

    [Fact]
    public void Sync_AfterChanges_ListsTheQueueInPriorityThenKeyThenSubmissionOrder()
    {
        var order = new PendingOrder();
        var truth = new SortedSet<WorkloadState>(Comparer<WorkloadState>.Create((x, y) => PendingKey.Of(x).CompareTo(PendingKey.Of(y))));
        var a = Waiting(0, 0, 5, 0);
        var b = Waiting(1, 1, 9, 1);
        var c = Waiting(2, 0, 5, 0);
        var d = Waiting(3, 0, 1, 3);
        foreach (var w in new[] { a, b, c, d })
        {
            order.Add(w);
            truth.Add(w);
        }

        order.Sync(truth);

        Assert.Equal([b, d, a, c], Items(order));
    }

    [Fact]
    public void Sync_ChangesBetweenSyncs_LeaveTheListAsItWasUntilTheNextSync()
    {
        var order = new PendingOrder();
        var a = Waiting(0, 0, 1, 0);
        var b = Waiting(1, 0, 2, 0);
        order.Add(a);
        order.Add(b);
        order.Sync([a, b]);

        order.Remove(a);
        order.Add(Waiting(2, 0, 0, 0));

        Assert.Equal([a, b], Items(order));
    }

    [Fact]
    public void Sync_WorkloadLeavesAndReentersWithANewKey_IsFoundByItsOldKeyAndMoves()
    {
        var order = new PendingOrder();
        var a = Waiting(0, 0, 1, 0);
        var b = Waiting(1, 0, 2, 0);
        order.Add(a);
        order.Add(b);
        order.Sync([a, b]);

        order.Remove(a);
        a.SortKey = 3;
        order.Add(a);
        order.Sync([b, a]);

        Assert.Equal([b, a], Items(order));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Sync_RandomChanges_EqualsASortedSetOfTheSameWorkloads(int seed)
    {
        var random = new Random(seed);
        var order = new PendingOrder();
        var truth = new SortedSet<WorkloadState>(Comparer<WorkloadState>.Create((x, y) => PendingKey.Of(x).CompareTo(PendingKey.Of(y))));
        var sequence = 0L;
        for (var round = 0; round < 200; round++)
        {
            // Rounds of a few changes take the one-by-one path; rounds of hundreds, the rebuild.
            for (var k = random.Next(round % 10 == 0 ? 300 : 6); k > 0; k--)
            {
                if (truth.Count > 0 && random.Next(3) == 0)
                {
                    var w = truth.ElementAt(random.Next(truth.Count));
                    truth.Remove(w);
                    order.Remove(w);
                    if (random.Next(2) == 0)
                    {
                        w.SortKey = random.Next(10);
                        truth.Add(w);
                        order.Add(w);
                    }
                }
                else
                {
                    var w = Waiting(sequence++, random.Next(3), random.Next(10), random.Next(50));
                    truth.Add(w);
                    order.Add(w);
                }
            }

            order.Sync(truth);

            Assert.True(truth.SequenceEqual(Items(order)), $"seed {seed}, round {round}");
        }
    }

    [Fact]
    public void IndexAfter_KeyOfAnotherQueue_IsTheFirstLaterWorkloadFromTheStart()
    {
        var order = new PendingOrder();
        var items = new[] { Waiting(0, 0, 1, 0), Waiting(2, 0, 3, 0), Waiting(4, 0, 5, 0) };
        foreach (var w in items)
        {
            order.Add(w);
        }

        order.Sync(items);

        Assert.Equal(1, order.IndexAfter(PendingKey.Of(Waiting(1, 0, 2, 0)), 0));
        Assert.Equal(2, order.IndexAfter(PendingKey.Of(items[1]), 0));
        Assert.Equal(2, order.IndexAfter(PendingKey.Of(Waiting(1, 0, 2, 0)), 2));
        Assert.Equal(3, order.IndexAfter(PendingKey.Of(Waiting(5, 0, 9, 0)), 0));
        Assert.Equal(0, order.IndexAfter(PendingKey.Of(Waiting(5, 1, 9, 0)), 0));
    }
}
