using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Plugins.Fgd;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Plugins.Fgd;

/// <summary>
/// Hand-computed cases of the fragmentation measure of Weng et al., "Beware of Fragmentation", ATC'23 §3.
/// Free shares are per device in milli-GPU; all devices are model 0 unless stated.
/// </summary>
public class FragmentationGoldenTests
{
    private const ulong Model0 = 1;

    private static int Frag(int[] free, long freeCpu, TaskClass task, int[]? models = null) =>
        Fragmentation.ForTask(free, models ?? new int[free.Length], freeCpu, task);

    [Fact]
    public void ForTask_HalfGpuTaskThatFits_CountsOnlyDevicesWithTooLittleRoom()
    {
        // Free 1000, 300, 600, 0. A 500-milli task fits (devices 0 and 2); device 1's 300 is a fragment.
        var frag = Frag([1000, 300, 600, 0], 8000, new TaskClass(1000, 0, 500, Model0, 1));

        Assert.Equal(300, frag);
    }

    [Fact]
    public void ForTask_TaskThatCannotRun_CountsEveryFreeShare()
    {
        // No device has 800 free: the task cannot run, so 300 + 600 + 100 = 1000 is all fragment.
        var frag = Frag([300, 600, 100], 8000, new TaskClass(1000, 0, 800, Model0, 1));

        Assert.Equal(1000, frag);
    }

    [Fact]
    public void ForTask_NotEnoughCpu_CountsEveryFreeShare()
    {
        // The GPUs would fit but the node has 2 cores left and the task needs 4: 1000 + 500 is stranded.
        var frag = Frag([1000, 500], 2000, new TaskClass(4000, 0, 500, Model0, 1));

        Assert.Equal(1500, frag);
    }

    [Fact]
    public void ForTask_MultiGpuTask_PartialDevicesAreFragmentsWhenItFits()
    {
        // Two fully free devices hold a 2-GPU task; the 400 and 700 left on partly used devices cannot serve it.
        var frag = Frag([1000, 1000, 400, 700], 8000, new TaskClass(0, 2, 0, Model0, 1));

        Assert.Equal(1100, frag);
    }

    [Fact]
    public void ForTask_MultiGpuTaskThatDoesNotFit_EverythingIsFragment()
    {
        var frag = Frag([1000, 400, 700], 8000, new TaskClass(0, 2, 0, Model0, 1));

        Assert.Equal(2100, frag);
    }

    [Fact]
    public void ForTask_WrongModelDevices_AreFragmentsForAModelBoundTask()
    {
        // Device 1 is model 1, which the task does not allow: its 1000 free is a fragment for this task.
        var frag = Frag([1000, 1000], 8000, new TaskClass(0, 0, 500, Model0, 1), models: [0, 1]);

        Assert.Equal(1000, frag);
    }

    [Fact]
    public void ForTask_CpuOnlyTask_FragmentsOnlyWhenCpuIsShort()
    {
        Assert.Equal(0, Frag([600, 1000], 4000, new TaskClass(2000, 0, 0, Model0, 1)));
        Assert.Equal(1600, Frag([600, 1000], 1000, new TaskClass(2000, 0, 0, Model0, 1)));
    }

    [Fact]
    public void Expected_WeighsEachClassByPopularity()
    {
        // free [1000, 300]: a 500 task sees 300 as fragment, a 2-GPU task cannot run (1300 fragment).
        // 0.75 × 300 + 0.25 × 1300 = 225 + 325 = 550.
        TaskClass[] classes = [new(0, 0, 500, Model0, 0.75), new(0, 2, 0, Model0, 0.25)];

        var expected = Fragmentation.Expected([1000, 300], [0, 0], 8000, classes);

        Assert.Equal(550, expected, 9);
    }

    [Fact]
    public void BestDelta_FractionalPod_JoinsTheSharedDeviceWhenWholeGpuTasksAreExpected()
    {
        // One node, two devices; a 500 share already sits on one of them, so free = [500, 1000] in some order.
        // Workload: 1-GPU tasks only. Before: the task fits on the free device, the 500 left is a fragment (500).
        // A new 500 pod on the shared device leaves [0, 1000]: frag 0, Δ = −500.
        // On the free device it leaves [500, 500]: no device can take a whole task, frag 1000, Δ = +500.
        var scheduler = Make.Scheduler([Make.Node("n0", gpus: 2, domainSize: 0)]);
        scheduler.Accept(Make.Job("half", podSets: Make.Pods(milli: 500)));
        scheduler.RunCycle(Make.T0);
        var shared = scheduler.Get("half")!.Placements(scheduler.Cluster)[0].Devices[0];
        TaskClass[] wholeGpuTasks = [new(0, 1, 0, ulong.MaxValue, 1)];

        var delta = Fragmentation.BestDelta(scheduler.Cluster, 0, new PodRequest(Make.Pods(milli: 500, cpu: 0, memory: 0), ulong.MaxValue), wholeGpuTasks, out var device);

        Assert.Equal(-500, delta, 9);
        Assert.Equal(shared, device);
    }

    [Fact]
    public void FgdPlugin_PrefersTheNodeWhereFragmentationGrowsLeast()
    {
        // Two nodes with one GPU each. n0 already runs a 500 share; n1 is idle. Workload: 500-milli tasks.
        // A new 500 pod on n0 fills the device (Δ = 0); on n1 it leaves 500, still usable (Δ = 0) — a tie.
        // With a workload of 1-GPU tasks instead, n1 would drop from fitting (frag 0) to 500 fragment (Δ +500),
        // while n0's 500 is already a fragment and filling it removes it (Δ −500): FGD must pick n0.
        var scheduler = Make.Scheduler([Make.Node("n0", gpus: 1, domainSize: 0), Make.Node("n1", gpus: 1, domainSize: 0)]);
        scheduler.Accept(Make.Job("first", podSets: Make.Pods(milli: 500)));
        scheduler.RunCycle(Make.T0);
        var occupied = scheduler.Get("first")!.Placements(scheduler.Cluster)[0].Node;
        var context = new ScoringContext(1);
        context.Workload.Add(0, 1, 0, ulong.MaxValue, 1);
        var pod = new PodRequest(Make.Pods(milli: 500, cpu: 0, memory: 0), ulong.MaxValue);
        var plugin = new FgdPlugin();
        scheduler.Cluster.TryGetNode(occupied, out var busy);
        var idle = 1 - busy;

        var busyScore = plugin.Score(scheduler.Cluster, busy, pod, context);
        var idleScore = plugin.Score(scheduler.Cluster, idle, pod, context);

        Assert.Equal(50 + 50 * 500 / FgdPlugin.Scale, busyScore, 9);
        Assert.Equal(50 - 50 * 500 / FgdPlugin.Scale, idleScore, 9);
    }
}
