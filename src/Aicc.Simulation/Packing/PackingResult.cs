using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aicc.Scheduling.Framework;

namespace Aicc.Simulation.Packing;

/// <summary>One policy on one pod list over several seeds: the figures <c>aicc sim pack</c> prints.</summary>
public sealed record PackingResult(string Workload, string Policy, IReadOnlyList<SeedCurve> Seeds, int Gpus, double WallSeconds)
{
    /// <summary>Loads at which the summary reports allocation.</summary>
    public static readonly int[] AllocLoads = [80, 90, 95, 100, 110, 120, 130];

    /// <summary>Loads at which the summary reports the fragmentation ratio.</summary>
    public static readonly int[] FragLoads = [50, 90];

    /// <summary>Mean over seeds of allocation (percent of capacity) at <paramref name="load"/>% arrived.</summary>
    public double AllocPct(int load) => Mean(Seeds.Select(s => s.AllocPct[load]));

    public double FragRatioPct(int load) => Mean(Seeds.Select(s => s.FragRatioPct[load]));

    /// <summary>Mean allocation curve over seeds, 0..130%.</summary>
    public double[] AllocCurve() => [.. Enumerable.Range(0, PackingSimulation.MaxLoadPct + 1).Select(AllocPct)];

    public int UnallocatedGpusAt130 => (int)Math.Round((100 - AllocPct(130)) / 100 * Gpus);

    public JsonObject ToJson()
    {
        var bySeed = new JsonObject();
        var fragBySeed = new JsonObject();
        foreach (var seed in Seeds)
        {
            bySeed[seed.Seed.ToString(CultureInfo.InvariantCulture)] = Figures(AllocLoads, l => seed.AllocPct[l]);
            fragBySeed[seed.Seed.ToString(CultureInfo.InvariantCulture)] = Figures(FragLoads, l => seed.FragRatioPct[l]);
        }

        return new JsonObject
        {
            ["workload"] = Workload,
            ["policy"] = Policy,
            ["seeds"] = new JsonArray([.. Seeds.Select(s => (JsonNode)s.Seed)]),
            ["gpus"] = Gpus,
            ["alloc_pct"] = Figures(AllocLoads, AllocPct),
            ["alloc_pct_by_seed"] = bySeed,
            ["frag_ratio_pct"] = Figures(FragLoads, FragRatioPct),
            ["frag_ratio_pct_by_seed"] = fragBySeed,
            ["unallocated_gpus_at_130"] = UnallocatedGpusAt130,
            ["idle_at_end"] = IdleJson(),
            ["wall_s"] = Math.Round(WallSeconds, 2),
        };
    }

    public string ToJsonText() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Means over seeds of <see cref="IdleBreakdown"/>, in devices (docs/simulator.md).</summary>
    private JsonObject? IdleJson()
    {
        var idle = Seeds.Select(s => s.IdleAtEnd).OfType<IdleBreakdown>().ToList();
        if (idle.Count == 0)
        {
            return null;
        }

        JsonNode Round(Func<IdleBreakdown, double> f) => Math.Round(idle.Average(f), 1);
        return new JsonObject
        {
            ["gpus"] = Round(i => i.Idle),
            ["whole_devices"] = Round(i => i.WholeDevices),
            ["usable"] = Round(i => i.Usable),
            ["usable_by_small_pods_only"] = Round(i => i.UsableBySmallPodsOnly),
            ["small_pods_pct"] = Round(i => i.SmallPodsPct),
            ["cpu_or_memory_stranded"] = Round(i => i.CpuOrMemoryStranded),
            ["below_every_request"] = Round(i => i.BelowEveryRequest),
            ["beside_large_shares"] = Round(i => i.BesideLargeShares),
            ["failed_pods"] = Math.Round(Seeds.Average(s => s.Failed), 1),
            ["cpu_used_pct"] = Round(i => i.CpuUsedPct),
            ["memory_used_pct"] = Round(i => i.MemoryUsedPct),
        };
    }

    private static JsonObject Figures(int[] loads, Func<int, double> value)
    {
        var o = new JsonObject();
        foreach (var load in loads)
        {
            var v = value(load);
            o[load.ToString(CultureInfo.InvariantCulture)] = double.IsNaN(v) ? null : Math.Round(v, 2);
        }

        return o;
    }

    private static double Mean(IEnumerable<double> values)
    {
        var list = values.Where(v => !double.IsNaN(v)).ToList();
        return list.Count == 0 ? double.NaN : list.Average();
    }
}

/// <summary>Runs the seeds of a packing experiment in parallel, one <see cref="Placer"/> per seed.</summary>
public static class PackingRunner
{
    public static PackingResult Run(PackingInput input, PolicySpec policy, IReadOnlyList<int> seeds, PackingOptions options, IProgress<double>? progress = null, int parallelism = 0)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var curves = new SeedCurve[seeds.Count];
        var done = new double[seeds.Count];
        Parallel.For(0, seeds.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount }, i =>
        {
            curves[i] = PackingSimulation.Run(input, policy, seeds[i], options, progress is null ? null : (at, of) =>
            {
                Volatile.Write(ref done[i], (double)at / Math.Max(1, of));
                progress.Report(done.Sum() / seeds.Count);
            });
        });
        return new PackingResult(input.Workload, policy.Name, curves, input.Gpus, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>Parses <c>42-51</c>, <c>42,43,47</c> or <c>42</c>; null with a message when malformed.</summary>
    public static IReadOnlyList<int>? ParseSeeds(string text, out string? problem)
    {
        problem = null;
        var seeds = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', 1);
            if (dash > 0 && int.TryParse(part[..dash], CultureInfo.InvariantCulture, out var from) && int.TryParse(part[(dash + 1)..], CultureInfo.InvariantCulture, out var to) && from <= to && to - from < 10_000)
            {
                seeds.AddRange(Enumerable.Range(from, to - from + 1));
            }
            else if (int.TryParse(part, CultureInfo.InvariantCulture, out var single))
            {
                seeds.Add(single);
            }
            else
            {
                problem = $"--seeds: '{part}' is not a seed or a range like 42-51";
                return null;
            }
        }

        if (seeds.Count == 0)
        {
            problem = "--seeds: give at least one seed";
            return null;
        }

        return seeds.Distinct().ToList();
    }
}
