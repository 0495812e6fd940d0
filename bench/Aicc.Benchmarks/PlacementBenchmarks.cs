using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using BenchmarkDotNet.Attributes;

namespace Aicc.Benchmarks;

/// <summary>
/// One scheduling cycle that admits <see cref="Workloads"/> pending workloads onto an empty
/// 10,000-node × 8-GPU cluster. Reported per placement (OperationsPerInvoke), with allocations.
/// Expected on a 2-core machine (measured, see docs/scheduling.md): single-GPU pods ≥ 10,000/s
/// (≤ 100 µs each), 8-GPU gang pods with topology scoring ≥ 1,000/s (≤ 1 ms each).
/// Run: dotnet run -c Release --project bench/Aicc.Benchmarks -- --filter '*Placement*'
/// </summary>
[MemoryDiagnoser]
public class PlacementBenchmarks
{
    private const int Workloads = 4000;
    private Scheduler _scheduler = null!;

    [Params(1, 8)]
    public int GpusPerPod { get; set; }

    [Params("aicc", "bestfit")]
    public string Policy { get; set; } = "aicc";

    [IterationSetup]
    public void Setup()
    {
        _scheduler = new Scheduler(new SchedulerSetup
        {
            Catalog = ClusterBuilder.DefaultCatalog(),
            Nodes = ClusterBuilder.Uniform(10_000, 8, "A100", domainSize: 4),
            Queues = [new QueueSpec { Name = "bench" }],
            Policy = PluginRegistry.Policies[Policy],
        });
        var podsPerJob = GpusPerPod == 8 ? 4 : 1;
        var podSet = new PodSetSpec
        {
            Count = podsPerJob,
            CpuMilli = 4000L * GpusPerPod,
            MemoryMiB = 32_768L * GpusPerPod,
            Accelerator = AcceleratorRequest.Whole(GpusPerPod),
        };
        for (var i = 0; i < Workloads / podsPerJob; i++)
        {
            _scheduler.Submit(new WorkloadSpec { Id = $"job-{i}", Queue = "bench", PodSets = [podSet] });
        }
    }

    [Benchmark(OperationsPerInvoke = Workloads)]
    public int PlaceAll() => _scheduler.RunCycle(DateTimeOffset.UnixEpoch).PodsPlaced;
}
