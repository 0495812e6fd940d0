using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aicc.Simulation.Replay;
using Aicc.Simulation.Traces;

namespace Aicc.Commands;

/// <summary>
/// <c>aicc sim replay</c>: replays a job trace through the real scheduling core on a virtual clock and
/// reports JCT, queueing, utilisation and per-tenant safety (docs/replay.md).
/// </summary>
internal static class SimReplayCommand
{
    public static Command Create()
    {
        var trace = new Option<FileInfo>("--trace") { Description = "Job trace: Philly, Tiresias or Aicc CSV (format recognised by its header).", Required = true };
        var policy = new Option<string>("--policy") { Description = $"Replay policy: {ReplayPolicy.Names}.", DefaultValueFactory = _ => "fifo" };
        var gpus = new Option<int?>("--gpus") { Description = "Cluster of N GPUs in uniform nodes." };
        var gpusPerNode = new Option<int>("--gpus-per-node") { Description = "GPUs per node for --gpus and --load.", DefaultValueFactory = _ => 8 };
        var model = new Option<string>("--model") { Description = "Accelerator model of a uniform cluster.", DefaultValueFactory = _ => "A100" };
        var load = new Option<double?>("--load") { Description = "Size the cluster so that offered GPU-time / (capacity × trace span) = L." };
        var nodes = new Option<FileInfo?>("--nodes") { Description = "Node CSV: name,gpus,model[,rack][,cpu_milli][,memory_mib]." };
        var jobs = new Option<int?>("--jobs") { Description = "Replay only the first N arrivals (a reduced replay)." };
        var json = new Option<string?>("--json") { Description = "Write the JSON report to FILE ('-' = standard output)." };
        var plot = new Option<DirectoryInfo?>("--plot") { Description = "Write plots (queue length, utilisation, JCT CDF) as SVG into DIR." };
        var noPrivate = new Option<bool>("--no-private") { Description = "Skip the per-tenant private-cluster baselines." };
        var outcomes = new Option<string?>("--outcomes") { Description = "Write one CSV line per job (submit, duration, first start, end, evictions) to FILE, for analysis; private-cluster baselines follow as cluster private:TENANT." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the scheduling core.", DefaultValueFactory = _ => 42 };
        var tightBound = new Option<bool>("--tight-bound") { Description = "Also compute the mean busy time bound on JCT (tighter than the capacity bound; about a minute on 80,000 jobs)." };
        var command = new Command("replay", "Replay a job trace through the scheduling core on a virtual clock: JCT, queueing, utilisation, tenant safety.")
        {
            trace, policy, gpus, gpusPerNode, model, load, nodes, jobs, json, plot, noPrivate, seed, outcomes, tightBound,
        };
        command.SetAction(parse => Run(new ReplayCommandOptions(
            parse.GetValue(trace)!.FullName,
            parse.GetValue(policy)!,
            parse.GetValue(gpus),
            parse.GetValue(gpusPerNode),
            parse.GetValue(model)!,
            parse.GetValue(load),
            parse.GetValue(nodes)?.FullName,
            parse.GetValue(jobs),
            parse.GetValue(json),
            parse.GetValue(plot)?.FullName,
            !parse.GetValue(noPrivate),
            parse.GetValue(seed),
            parse.GetValue(outcomes),
            parse.GetValue(tightBound))));
        return command;
    }

    private static int Run(ReplayCommandOptions o)
    {
        var wall = Stopwatch.StartNew();
        var problems = o.Validate();
        if (problems.Count > 0)
        {
            return Fail(problems);
        }

        JobTrace trace;
        ReplayCluster cluster;
        try
        {
            trace = JobTraceReader.Read(o.Trace);
            if (o.Jobs is { } take)
            {
                trace = trace.Take(take);
            }

            cluster = o.NodesFile is not null ? ReplayCluster.FromCsv(o.NodesFile)
                : o.Gpus is { } g ? ReplayCluster.Uniform(g, o.GpusPerNode, o.Model)
                : ReplayCluster.ForLoad(trace, o.Load!.Value, o.GpusPerNode, o.Model);
        }
        catch (JobTraceException ex)
        {
            return Fail([.. ex.Problems.Select(p => p.ToString())]);
        }

        var policy = ReplayPolicy.Find(o.Policy)!;
        var terminal = !Console.IsErrorRedirected;
        using var progress = terminal ? ProgressBar.ForTerminal($"replay {policy.Name}") : null;
        var options = new ReplayOptions { Trace = trace, Cluster = cluster, Policy = policy, Seed = o.Seed, Progress = progress is null ? null : (done, total) => progress.Report(done, total) };
        var quotas = ReplayEngine.QuotaShares(trace, cluster.TotalGpus);
        var privateRuns = o.Private ? Task.Run(() => ReplayReport.RunPrivateClusters(options with { Progress = null }, quotas)) : null;
        var run = ReplayEngine.Run(options with { TenantQuotas = quotas });
        progress?.Dispose();
        var alone = privateRuns?.GetAwaiter().GetResult();
        var summary = ReplayReport.Summarize(run, alone, wall.Elapsed.TotalSeconds);
        if (o.TightBound)
        {
            using var bar = terminal ? ProgressBar.ForTerminal("busy time bound") : null;
            var done = run.Jobs.Where(j => j.Finished).ToArray();
            summary = summary with { JctBusyTimeBoundSeconds = JctBounds.BusyTime(done, cluster.TotalGpus, progress: bar) };
        }
        if (o.PlotDir is not null)
        {
            ReplayPlots.Write(run, summary, o.PlotDir);
        }

        if (o.Outcomes is not null)
        {
            WriteAtomically(o.Outcomes, OutcomesCsv(run, alone));
        }

        var document = JsonSerializer.Serialize(summary.ToJson(), JsonOutput.Options);
        if (o.Json is "-")
        {
            Console.WriteLine(document);
        }
        else
        {
            if (o.Json is not null)
            {
                WriteAtomically(o.Json, document + "\n");
            }

            PrintTable(summary, trace, cluster);
        }

        if (summary.Violations.Count > 0)
        {
            foreach (var v in summary.Violations.Take(20))
            {
                Console.Error.WriteLine($"invariant broken: {v}");
            }

            return 1;
        }

        return 0;
    }

    private static void PrintTable(ReplaySummary s, JobTrace trace, ReplayCluster cluster)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"trace {trace.Source}: {s.Jobs:N0} jobs over {trace.SpanSeconds / 86_400:0.0} days; cluster {cluster.TotalGpus:N0} GPUs ({cluster.Nodes.Count:N0} nodes), offered load {s.OfferedLoad:0.000}"));
        Console.WriteLine(string.Create(c, $"policy {s.Policy}: avg JCT {s.AvgJctSeconds:N0} s (lower bound {s.JctLowerBoundSeconds:N0} s, +{(s.AvgJctSeconds / Math.Max(1e-9, s.JctLowerBoundSeconds) - 1) * 100:0.0}%), p50 {s.P50JctSeconds:N0} s, p99 {s.P99JctSeconds:N0} s"));
        Console.WriteLine(string.Create(c, $"  capacity bound {s.JctCapacityBoundSeconds:N0} s: no schedule on {cluster.TotalGpus:N0} GPUs does better; this policy is +{(s.AvgJctSeconds / Math.Max(1e-9, s.JctCapacityBoundSeconds) - 1) * 100:0.0}% above it"));
        if (s.JctBusyTimeBoundSeconds is { } busy)
        {
            Console.WriteLine(string.Create(c, $"  busy time bound {busy:N0} s (+{(busy / Math.Max(1e-9, s.JctLowerBoundSeconds) - 1) * 100:0.0}% over the mean duration): no schedule on {cluster.TotalGpus:N0} GPUs does better; this policy is +{(s.AvgJctSeconds / Math.Max(1e-9, busy) - 1) * 100:0.0}% above it"));
        }
        Console.WriteLine(string.Create(c, $"  avg queueing {s.AvgQueueSeconds:N0} s, makespan {s.MakespanSeconds:N0} s, GPU utilisation {s.GpuUtilPercent:0.0}%, preemptions {s.Preemptions:N0}, rejected {s.Rejected:N0}, wall {s.WallSeconds:0.00} s"));
        if (s.WorstTenant is { } w)
        {
            Console.WriteLine(string.Create(c, $"  worst tenant vs its private cluster: {w.Tenant} ({w.QuotaGpus} GPUs) avg queueing {w.ComparableAvgQueueSeconds ?? w.AvgQueueSeconds:N0} s shared vs {w.PrivateAvgQueueSeconds:N0} s alone (jobs that fit its quota), ratio {w.Ratio:0.000}"));
        }
    }

    private static string OutcomesCsv(ReplayRun run, IReadOnlyDictionary<string, ReplayRun>? privateRuns)
    {
        var text = new System.Text.StringBuilder("cluster,id,tenant,gpus,submit_s,duration_s,first_start_s,end_s,evictions\n");
        Append("shared", run);
        foreach (var (tenant, alone) in privateRuns ?? new Dictionary<string, ReplayRun>())
        {
            Append($"private:{tenant}", alone);
        }

        return text.ToString();

        void Append(string cluster, ReplayRun r)
        {
            var c = CultureInfo.InvariantCulture;
            var jobs = r.Options.Trace.Jobs;
            for (var i = 0; i < jobs.Count; i++)
            {
                var j = r.Jobs[i];
                text.Append(c, $"{cluster},{jobs[i].Id},{j.Tenant},{j.Gpus},{j.Submit},{j.Duration},{j.FirstStart},{j.End},{j.Evictions}\n");
            }
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, full, overwrite: true);
    }

    private static int Fail(IEnumerable<string> problems)
    {
        foreach (var p in problems)
        {
            Console.Error.WriteLine($"error: {p}");
        }

        return 2;
    }
}

internal sealed record ReplayCommandOptions(
    string Trace, string Policy, int? Gpus, int GpusPerNode, string Model, double? Load, string? NodesFile, int? Jobs, string? Json, string? PlotDir, bool Private, ulong Seed, string? Outcomes = null, bool TightBound = false)
{
    public List<string> Validate()
    {
        var problems = new List<string>();
        if (ReplayPolicy.Find(Policy) is null)
        {
            problems.Add($"--policy {Policy}: unknown (choose {ReplayPolicy.Names})");
        }

        var sizes = (Gpus is null ? 0 : 1) + (Load is null ? 0 : 1) + (NodesFile is null ? 0 : 1);
        if (sizes != 1)
        {
            problems.Add("give exactly one of --gpus N, --load L or --nodes FILE");
        }

        if (Gpus is { } g && (g < 1 || g > 10_000_000))
        {
            problems.Add($"--gpus {g}: must be 1..10000000");
        }

        if (GpusPerNode is < 1 or > 64)
        {
            problems.Add($"--gpus-per-node {GpusPerNode}: must be 1..64");
        }

        if (Load is { } l && (!double.IsFinite(l) || l <= 0 || l > 100))
        {
            problems.Add($"--load {l}: must be in (0, 100]");
        }

        if (Jobs is { } j && j < 1)
        {
            problems.Add($"--jobs {j}: must be at least 1");
        }

        return problems;
    }
}
