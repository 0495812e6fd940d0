using Aicc.Scheduling.Model;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Validation;

public sealed class WorkloadValidatorTests
{
    private static Aicc.Scheduling.Framework.Scheduler NewScheduler() =>
        Make.Scheduler().Node(Make.Node("n0").Gpus(8).Cpu(64_000).Memory(256 * 1024)).Build();

    [Fact]
    public void Submit_SpecWithManyProblems_NamesEveryOneAndQueuesNothing()
    {
        var s = NewScheduler();
        var spec = new WorkloadSpec
        {
            Id = "bad\u0007id",
            Queue = "nowhere",
            PodSets =
            [
                new PodSetSpec { Name = "main", Count = 0, CpuMilli = -1, MemoryMiB = -5, Accelerator = new AcceleratorRequest { Count = 1, Milli = 1000, AllowedModels = ["Z80"] } },
                new PodSetSpec { Name = "main", Count = 200_000, MinCount = 0, CpuMilli = 10_000_000, MemoryMiB = 1L << 40, Accelerator = new AcceleratorRequest { Milli = -5 } },
                new PodSetSpec { Name = "wide", Accelerator = new AcceleratorRequest { Count = 9 } },
                new PodSetSpec { Name = "half", Accelerator = new AcceleratorRequest { Milli = 0, Count = -2, MemoryMiB = -1, MinScuMilli = -1 } },
            ],
        };

        var problems = s.Submit(spec);

        var fields = problems.Select(p => p.Field).ToList();
        Assert.Equal(
            [
                "id", "queue",
                "podSets[0].count", "podSets[0].cpu", "podSets[0].memory", "podSets[0].accelerator.milli", "podSets[0].accelerator", "podSets[0].accelerator.models",
                "podSets[1].name", "podSets[1].count", "podSets[1].minCount", "podSets[1].cpu", "podSets[1].memory", "podSets[1].accelerator.milli",
                "podSets[2].accelerator.count",
                "podSets[3].accelerator.count", "podSets[3].accelerator.memory", "podSets[3].accelerator.minScu",
            ],
            fields);
        Assert.Contains(problems, p => p.Message.Contains("'Z80'", StringComparison.Ordinal) && p.Message.Contains("known: A100", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Message == "no queue named 'nowhere'");
        Assert.Contains(problems, p => p.Message.Contains("9 devices per pod, but no node has more than 8", StringComparison.Ordinal));
        Assert.Null(s.Get("bad\u0007id"));
        Assert.Equal(0, s.PendingCount);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(1500)]
    [InlineData(-1)]
    public void Submit_FractionOutOfRange_IsRejected(int milli)
    {
        var s = NewScheduler();

        var problems = s.Submit(new WorkloadSpec { Id = "w", Queue = "q", PodSets = [new PodSetSpec { Accelerator = new AcceleratorRequest { Milli = milli } }] });

        Assert.Equal("podSets[0].accelerator.milli", Assert.Single(problems).Field);
        Assert.Null(s.Get("w"));
    }

    [Fact]
    public void Submit_NoPodSets_SaysAtLeastOneIsRequired()
    {
        var problems = NewScheduler().Submit(new WorkloadSpec { Id = "w", Queue = "q" });

        Assert.Equal("podSets: at least one pod set is required", Assert.Single(problems).ToString());
    }

    [Fact]
    public void Submit_NullsAndEmptyNames_AreReportedNotThrown()
    {
        var s = NewScheduler();
        var spec = new WorkloadSpec
        {
            Id = "",
            Queue = " ",
            PodSets = [null!, new PodSetSpec { Name = "", Accelerator = null!, NodeSelector = null!, Tolerations = null! }],
        };

        var problems = s.Submit(spec);

        Assert.Equal(["id", "queue", "podSets[0]", "podSets[1].name", "podSets[1]", "podSets[1].accelerator"], problems.Select(p => p.Field));
    }

    [Fact]
    public void Submit_DuplicateId_IsRejected()
    {
        var s = NewScheduler().Submitted(Make.Workload("w").Pods(1, 1));

        Assert.Equal("id", Assert.Single(s.Submit(Make.Workload("w").Pods(1, 1))).Field);
    }

    [Fact]
    public void Submit_ModelAndMinScuExcludeEachOther_SaysNoModelMatches()
    {
        var problems = NewScheduler().Submit(Make.Workload("w").Add(new PodSetSpec { Accelerator = new AcceleratorRequest { Count = 1, AllowedModels = ["T4"], MinScuMilli = 1000 } }));

        Assert.Equal("no model in the catalog matches both the allowed models and the minimum SCU", Assert.Single(problems).Message);
    }

    [Fact]
    public void Submit_OverlongName_IsRejected()
    {
        var problems = NewScheduler().Submit(Make.Workload(new string('x', 254)).Pods(1, 1));

        Assert.Equal("254 characters; at most 253", Assert.Single(problems).Message);
    }

    [Fact]
    public void Submit_FractionWithMoreDeviceMemoryThanAnyDevice_IsRejected()
    {
        var problems = NewScheduler().Submit(Make.Workload("w").Add(new PodSetSpec { Accelerator = new AcceleratorRequest { Milli = 500, MemoryMiB = 1_000_000 } }));

        Assert.Contains(problems, p => p.Field == "podSets[0].accelerator.memory");
    }

    [Fact]
    public void Submit_Null_IsAProblemNotAnException()
    {
        var problems = NewScheduler().Submit(null!);

        Assert.Single(problems);
    }

    [Fact]
    public void ClusterState_DomainOutsideZeroTo63_IsRefusedAtConstruction()
    {
        var node = new NodeSpec { Name = "n", CpuMilli = 1000, MemoryMiB = 1024, Devices = [new DeviceSpec(0, "A100", 0, 64)] };

        var error = Assert.Throws<ArgumentException>(() => new Aicc.Scheduling.Framework.ClusterState(Aicc.Scheduling.Model.ClusterBuilder.DefaultCatalog(), [node]));

        Assert.Contains("0..63", error.Message, StringComparison.Ordinal);
    }
}
