using Aicc.Simulation.Engine;

namespace Aicc.Simulation.Tests.Engine;

public sealed class AgendaTests
{
    [Fact]
    public void TryDequeueDue_OrdersByTimeThenSchedulingOrder()
    {
        var agenda = new Agenda<string>();
        agenda.Schedule(5, "late");
        agenda.Schedule(1, "first");
        agenda.Schedule(1, "second");
        var seen = new List<string>();
        while (agenda.TryDequeueDue(10, out var item, out _))
        {
            seen.Add(item);
        }

        Assert.Equal(["first", "second", "late"], seen);
    }

    [Fact]
    public void TryDequeueDue_LeavesFutureEvents()
    {
        var agenda = new Agenda<int>();
        agenda.Schedule(5, 1);
        Assert.False(agenda.TryDequeueDue(4, out _, out _));
        Assert.Equal(1, agenda.Count);
    }
}
