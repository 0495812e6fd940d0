using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;

namespace Aicc.Commands;

/// <summary>
/// <c>aicc bench placement</c>: places synthetic workloads on a uniform cluster through the real
/// scheduling cycle and reports placements per second, cycle latency and allocation per placement.
/// </summary>
internal static class BenchPlacementCommand
{
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Nodes in the cluster (8 devices each unless --gpus-per-node).", DefaultValueFactory = _ => 10_000 };
        var pods = new Option<int>("--pods") { Description = "Pods to place in all.", DefaultValueFactory = _ => 50_000 };
        var gpusPerPod = new Option<int>("--gpus-per-pod") { Description = "Whole devices per pod.", DefaultValueFactory = _ => 1 };
        var gpusPerNode = new Option<int>("--gpus-per-node") { Description = "Devices per node.", DefaultValueFactory = _ => 8 };
        var gang = new Option<bool>("--gang") { Description = "Submit gang workloads of --pods-per-job pods each (all or nothing)." };
        var podsPerJob = new Option<int>("--pods-per-job") { Description = "Pods per gang workload.", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch") { Description = "Workloads submitted before each scheduling cycle.", DefaultValueFactory = _ => 100 };
        var policy = new Option<string>("--policy") { Description = "Built-in policy name.", DefaultValueFactory = _ => "aicc" };
        var seed = new Option<ulong>("--seed") { Description = "Seed for tie-breaking.", DefaultValueFactory = _ => 42 };
        var json = new Option<bool>("--json") { Description = "Print only the JSON object (no progress)." };
        var command = new Command("placement", "Placements per second of the real scheduling cycle on a synthetic cluster.")
        {
            nodes, pods, gpusPerPod, gpusPerNode, gang, podsPerJob, batch, policy, seed, json,
        };
        command.SetAction(parse =>
        {
            var options = new PlacementBenchOptions(
                parse.GetValue(nodes), parse.GetValue(pods), parse.GetValue(gpusPerPod), parse.GetValue(gpusPerNode),
                parse.GetValue(gang), parse.GetValue(podsPerJob), parse.GetValue(batch), parse.GetValue(policy)!, parse.GetValue(seed));
            var problems = options.Validate();
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    Console.Error.WriteLine($"error: {problem}");
                }

                return 2;
            }

            var quiet = parse.GetValue(json) || Console.IsOutputRedirected;
            var result = PlacementBench.Run(options, quiet ? null : Console.Error);
            Console.WriteLine(JsonSerializer.Serialize(result, JsonOutput.Options));
            return 0;
        });
        return command;
    }
}

internal sealed record PlacementBenchOptions(int Nodes, int Pods, int GpusPerPod, int GpusPerNode, bool Gang, int PodsPerJob, int Batch, string Policy, ulong Seed)
{
    public List<string> Validate()
    {
        var problems = new List<string>();
        if (Nodes < 1 || Nodes > 200_000)
        {
            problems.Add($"--nodes {Nodes}: must be 1..200000");
        }

        if (Pods < 1 || Pods > 10_000_000)
        {
            problems.Add($"--pods {Pods}: must be 1..10000000");
        }

        if (GpusPerNode < 1 || GpusPerNode > 64)
        {
            problems.Add($"--gpus-per-node {GpusPerNode}: must be 1..64");
        }

        if (GpusPerPod < 1 || GpusPerPod > GpusPerNode)
        {
            problems.Add($"--gpus-per-pod {GpusPerPod}: must be 1..--gpus-per-node ({GpusPerNode})");
        }

        if (PodsPerJob < 1 || PodsPerJob > 1024)
        {
            problems.Add($"--pods-per-job {PodsPerJob}: must be 1..1024");
        }

        if (Batch < 1)
        {
            problems.Add($"--batch {Batch}: must be at least 1");
        }

        if (!PluginRegistry.Policies.ContainsKey(Policy))
        {
            problems.Add($"--policy {Policy}: unknown (choose {string.Join(", ", PluginRegistry.Policies.Keys)})");
        }

        return problems;
    }
}

/// <summary>The measurement itself, shared by the CLI and the BenchmarkDotNet project.</summary>
internal static class PlacementBench
{
    public static Dictionary<string, object> Run(PlacementBenchOptions o, TextWriter? progress)
    {
        // A small warm-up run lets the JIT compile the hot paths before timing.
        if (o.Nodes > 64)
        {
            Measure(o with { Nodes = 64, Pods = Math.Min(o.Pods, 256) }, null);
        }

        return Measure(o, progress);
    }

    private static Dictionary<string, object> Measure(PlacementBenchOptions o, TextWriter? progress)
    {
        var catalog = ClusterBuilder.DefaultCatalog();
        var setup = new SchedulerSetup
        {
            Catalog = catalog,
            Nodes = ClusterBuilder.Uniform(o.Nodes, o.GpusPerNode, "A100", domainSize: o.GpusPerNode >= 4 ? o.GpusPerNode / 2 : 0),
            Queues = [new QueueSpec { Name = "bench" }],
            Policy = PluginRegistry.Policies[o.Policy],
            Seed = o.Seed,
        };
        var scheduler = new Scheduler(setup);
        var perJob = o.Gang ? o.PodsPerJob : 1;
        var jobs = (o.Pods + perJob - 1) / perJob;
        var podSet = new PodSetSpec
        {
            Name = "worker",
            Count = perJob,
            CpuMilli = 4000L * o.GpusPerPod,
            MemoryMiB = 32_768L * o.GpusPerPod,
            Accelerator = AcceleratorRequest.Whole(o.GpusPerPod),
        };

        // Admitted workloads keep running, so the cluster fills up as in a busy center.
        var cycleMs = new List<double>();
        long placed = 0;
        var busy = TimeSpan.Zero;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var wall = Stopwatch.StartNew();
        var t0 = DateTimeOffset.UnixEpoch;
        var submitted = 0;
        while (submitted < jobs)
        {
            var n = Math.Min(o.Batch, jobs - submitted);
            for (var i = 0; i < n; i++)
            {
                scheduler.Submit(new WorkloadSpec { Id = $"job-{submitted + i}", Queue = "bench", PodSets = [podSet], SubmittedAt = t0 });
            }

            submitted += n;
            var start = Stopwatch.GetTimestamp();
            var result = scheduler.RunCycle(t0);
            var elapsed = Stopwatch.GetElapsedTime(start);
            busy += elapsed;
            cycleMs.Add(elapsed.TotalMilliseconds);
            placed += result.PodsPlaced;
            progress?.Write($"\r  placed {placed:N0} of {o.Pods:N0} pods, {submitted:N0}/{jobs:N0} jobs submitted   ");
        }

        progress?.WriteLine();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        cycleMs.Sort();
        return new Dictionary<string, object>
        {
            ["nodes"] = o.Nodes,
            ["gpus_per_node"] = o.GpusPerNode,
            ["pods"] = o.Pods,
            ["gpus_per_pod"] = o.GpusPerPod,
            ["gang"] = o.Gang,
            ["pods_per_job"] = perJob,
            ["policy"] = o.Policy,
            ["placed"] = placed,
            ["unplaced"] = (long)jobs * perJob - placed,
            ["cycles"] = cycleMs.Count,
            ["placements_per_s"] = Math.Round(placed / Math.Max(busy.TotalSeconds, 1e-9), 1),
            ["p50_cycle_ms"] = Math.Round(Percentile(cycleMs, 0.50), 3),
            ["p99_cycle_ms"] = Math.Round(Percentile(cycleMs, 0.99), 3),
            ["allocated_bytes_per_placement"] = placed == 0 ? 0 : allocated / placed,
            ["wall_s"] = Math.Round(wall.Elapsed.TotalSeconds, 3),
        };
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = false };
}
