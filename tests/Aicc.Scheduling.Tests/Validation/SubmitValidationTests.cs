using Aicc.Scheduling.Model;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Validation;

public class SubmitValidationTests
{
    private static Aicc.Scheduling.Framework.Scheduler Scheduler() => Make.Scheduler([Make.Node("n0", gpus: 8), Make.Node("n1", gpus: 4, model: "V100")]);

    [Fact]
    public void Submit_ManyProblems_NamesEveryOneAtOnceAndQueuesNothing()
    {
        var scheduler = Scheduler();
        var spec = new WorkloadSpec
        {
            Id = "bad",
            Queue = "nope",
            PodSets =
            [
                new PodSetSpec { Name = "a", Count = 0, CpuMilli = -1, MemoryMiB = -5, Accelerator = new AcceleratorRequest { Milli = 1000 } },
                new PodSetSpec { Name = "a", Count = 2, MinCount = 3, Accelerator = new AcceleratorRequest { Count = 2, Milli = 300 } },
                new PodSetSpec { Name = "c", Accelerator = AcceleratorRequest.Whole(1, "B200") },
                new PodSetSpec { Name = "d", Accelerator = AcceleratorRequest.Whole(9) },
            ],
        };

        var problems = scheduler.Submit(spec);

        var fields = problems.Select(p => p.Field).ToList();
        Assert.Contains("queue", fields);
        Assert.Contains("podSets[0].count", fields);
        Assert.Contains("podSets[0].cpu", fields);
        Assert.Contains("podSets[0].memory", fields);
        Assert.Contains("podSets[0].accelerator.milli", fields);
        Assert.Contains("podSets[1].name", fields);
        Assert.Contains("podSets[1].minCount", fields);
        Assert.Contains("podSets[1].accelerator", fields);
        Assert.Contains("podSets[2].accelerator.models", fields);
        Assert.Contains("podSets[3].accelerator.count", fields);
        Assert.Contains(problems, p => p.Message.Contains("B200", StringComparison.Ordinal) && p.Message.Contains("A100", StringComparison.Ordinal));
        Assert.Null(scheduler.Get("bad"));
        Assert.Equal(0, scheduler.PendingCount);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void Submit_FractionOutsideOneTo999_IsRejected(int milli)
    {
        var scheduler = Scheduler();

        var problems = scheduler.Submit(Make.Job("f", podSets: new PodSetSpec { Accelerator = new AcceleratorRequest { Milli = milli } }));

        Assert.True(milli == 0 ? problems.Count == 0 : problems.Any(p => p.Field == "podSets[0].accelerator.milli"), string.Join("; ", problems));
    }

    [Fact]
    public void Submit_NoPodSets_SaysOneIsRequired()
    {
        var problems = Scheduler().Submit(new WorkloadSpec { Id = "x", Queue = "q", PodSets = [] });

        Assert.Equal("podSets", Assert.Single(problems).Field);
    }

    [Fact]
    public void Submit_NullsAndControlCharacters_AreProblemsNotExceptions()
    {
        var scheduler = Scheduler();
        var spec = new WorkloadSpec
        {
            Id = "a\nb",
            Queue = null!,
            PodSets = [null!, new PodSetSpec { Name = null!, Accelerator = null!, NodeSelector = null!, Tolerations = null! }, new PodSetSpec { Accelerator = new AcceleratorRequest { Count = 1, AllowedModels = null! } }],
        };

        var problems = scheduler.Submit(spec);

        Assert.Contains(problems, p => p.Field == "id");
        Assert.Contains(problems, p => p.Field == "queue");
        Assert.Contains(problems, p => p.Field == "podSets[0]");
        Assert.Contains(problems, p => p.Field == "podSets[1].accelerator");
        Assert.Equal(0, scheduler.PendingCount);
    }

    [Fact]
    public void Submit_AbsurdCpuAndMemory_ComparedWithTheLargestNode()
    {
        var problems = Scheduler().Submit(Make.Job("big", podSets: Make.Pods(cpu: 10_000_000, memory: long.MaxValue)));

        Assert.Contains(problems, p => p.Field == "podSets[0].cpu" && p.Message.Contains("more than any node", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Field == "podSets[0].memory");
    }

    [Fact]
    public void Submit_ModelListAndMinimumScuThatExcludeEachOther_IsRejected()
    {
        var spec = Make.Job("scu", podSets: new PodSetSpec { Accelerator = AcceleratorRequest.Whole(1, "V100") with { MinScuMilli = 2000 } });

        var problems = Scheduler().Submit(spec);

        Assert.Contains(problems, p => p.Message.Contains("minimum SCU", StringComparison.Ordinal));
    }

    [Fact]
    public void Submit_DuplicateId_IsRejectedAndTheFirstIsKept()
    {
        var scheduler = Scheduler();
        scheduler.Accept(Make.Job("same"));

        var problems = scheduler.Submit(Make.Job("same", priority: 5));

        Assert.Equal("id", Assert.Single(problems).Field);
        Assert.Equal(0, scheduler.Get("same")!.Spec.Priority);
    }
}
