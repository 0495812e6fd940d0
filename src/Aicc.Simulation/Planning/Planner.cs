using System.Diagnostics;
using Aicc.Simulation.Replay;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Planning;

/// <summary>What to plan and how hard to search.</summary>
public sealed record PlanOptions
{
    public required DemandSpec Demand { get; init; }

    public required PlanCatalog Catalog { get; init; }

    public required Slo Slo { get; init; }

    public required ReplayPolicy Policy { get; init; }

    /// <summary>Largest count of one server type the search tries (null: the demand's <c>search.max_servers</c>).</summary>
    public int? MaxServers { get; init; }

    /// <summary>Replays per server type at most: doubling plus bisection stay well inside it; it only guards the loop.</summary>
    public int MaxReplaysPerType { get; init; } = 48;

    public int Parallelism { get; init; } = Environment.ProcessorCount;

    public ulong Seed { get; init; } = 42;

    /// <summary>Called now and then with the fraction of the search done (0..1), from any thread.</summary>
    public Action<double>? Progress { get; init; }
}

/// <summary>One replay of the search: a training pool of <see cref="Servers"/> servers of one type.</summary>
public sealed record Candidate(ServerType Type, int Servers, double Measured, bool Met, double YearlyCost, double WallSeconds)
{
    public int Gpus => Servers * Type.Accelerators;
}

/// <summary>The search on one server type: every replay it ran, the cheapest pool that met the SLO and the closest one.</summary>
public sealed record TypeSearch(ServerType Type, IReadOnlyList<Candidate> Evaluated, Candidate? Best, Candidate Closest, bool HitBound);

/// <summary>An inference service sized on the type that serves it at least yearly cost.</summary>
public sealed record ServiceSizing(InferenceDemand Service, ServerType Type, double RequestsPerSecond, double GpuSecondsPerRequest, double GpusNeeded, int Servers, double YearlyCost, IReadOnlyList<(ServerType Type, int Servers, double YearlyCost)> Alternatives);

/// <summary>The plan: the chosen mix, its buildout and economics, and how the search got there.</summary>
public sealed record PlanResult
{
    public required PlanOptions Options { get; init; }

    /// <summary>The merged training trace after growth, durations in SCU-seconds (null: no training demand).</summary>
    public JobTrace? TrainingTrace { get; init; }

    public required IReadOnlyList<TypeSearch> Searches { get; init; }

    /// <summary>The training pool of the plan: the cheapest that met the SLO, or the closest when none did.</summary>
    public Candidate? Training { get; init; }

    public required bool SloMet { get; init; }

    public required IReadOnlyList<ServiceSizing> Services { get; init; }

    public required Buildout Buildout { get; init; }

    public required double RevenuePerYear { get; init; }

    /// <summary>Capex / (revenue − opex) in years; null when revenue does not cover opex.</summary>
    public double? PaybackYears { get; init; }

    /// <summary>Accelerator models in the plan without a GPU-hour price (they earn nothing in the revenue figure).</summary>
    public required IReadOnlyList<string> Unpriced { get; init; }

    public required int Replays { get; init; }

    public required double WallSeconds { get; init; }
}

/// <summary>
/// Sizes a center for a demand. The training pool is found by replaying the demand's traces (grown to the
/// horizon) on candidate clusters through <see cref="ReplayEngine"/> — the same scheduling core the
/// server runs, as a digital twin — and keeping the cheapest count of each eligible server type that
/// meets the SLO: doubling from the count that would carry the offered load at 100 % until the SLO holds,
/// then bisection down to the smallest count that meets it and still meets it with
/// <see cref="StabilityMargin"/> more servers (at most ⌈log₂ max⌉ replays each way, and a hard cap per
/// type, so an SLO no cluster meets ends at the bound). The engine runs every job for a
/// fixed time whatever it is placed on, so a training pool is one server type, its durations converted
/// from the trace's reference accelerator by the SCU ratio. Inference services are sized analytically:
/// GPUs = requests/s × GPU-seconds per request / target utilisation, on the cheapest allowed type.
/// </summary>
public static class Planner
{
    private const int ProgressStepsPerType = 16;

    /// <summary>Counts above the answer that must meet the SLO too.</summary>
    public const int StabilityMargin = 2;

    public static PlanResult Run(PlanOptions options)
    {
        var wall = Stopwatch.StartNew();
        var demand = options.Demand;
        var catalog = options.Catalog;
        var services = demand.Inference.Select(s => SizeService(s, demand, catalog)).ToList();
        var storageTb = (demand.Traces.Sum(t => t.DatasetsTb) + demand.StorageTb) * demand.Growth(demand.StorageGrowthPerYear);
        var fixedServers = services.Select(s => new ServerCount(s.Type, s.Servers)).ToList();
        double CostWith(ServerType type, int servers) =>
            Buildout.For([.. fixedServers, new ServerCount(type, servers)], catalog.Site, storageTb).YearlyCost;

        var trace = TrainingTrace(demand, catalog);
        var types = trace is null ? [] : catalog.Servers
            .Where(s => demand.TrainingModels.Count == 0 || demand.TrainingModels.Contains(s.Accelerator, StringComparer.OrdinalIgnoreCase))
            .ToList();
        var searches = new TypeSearch[types.Count];
        var done = new int[types.Count];
        void Report()
        {
            if (options.Progress is { } p && types.Count > 0)
            {
                p(done.Sum(d => Math.Min(d, ProgressStepsPerType)) / (double)(types.Count * ProgressStepsPerType));
            }
        }

        var maxServers = options.MaxServers ?? demand.MaxServers;
        Parallel.For(0, types.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism) }, i =>
        {
            searches[i] = Search(types[i], trace!, options, maxServers, CostWith, () =>
            {
                Interlocked.Increment(ref done[i]);
                Report();
            });
            Volatile.Write(ref done[i], ProgressStepsPerType);
            Report();
        });

        var best = searches.Where(s => s.Best is not null).Select(s => s.Best!)
            .OrderBy(c => c.YearlyCost).ThenBy(c => c.Servers).ThenBy(c => c.Type.Name, StringComparer.Ordinal).FirstOrDefault();
        var closest = best ?? searches.Select(s => s.Closest)
            .OrderBy(c => Closeness(c, options.Slo)).ThenBy(c => c.YearlyCost).ThenBy(c => c.Type.Name, StringComparer.Ordinal).FirstOrDefault();
        var mix = closest is null ? fixedServers : [.. fixedServers, new ServerCount(closest.Type, closest.Servers)];
        var buildout = Buildout.For(mix, catalog.Site, storageTb);
        var revenue = 0.0;
        var unpriced = new List<string>();
        foreach (var s in buildout.Servers)
        {
            if (demand.GpuHourPrice.TryGetValue(s.Type.Accelerator, out var price))
            {
                revenue += s.Gpus * Buildout.HoursPerYear * demand.RevenueUtilisation * price;
            }
            else if (!unpriced.Contains(s.Type.Accelerator, StringComparer.OrdinalIgnoreCase))
            {
                unpriced.Add(s.Type.Accelerator);
            }
        }

        var margin = revenue - buildout.OpexPerYear;
        return new PlanResult
        {
            Options = options,
            TrainingTrace = trace,
            Searches = searches,
            Training = closest,
            SloMet = trace is null || best is not null,
            Services = services,
            Buildout = buildout,
            RevenuePerYear = revenue,
            PaybackYears = margin > 0 ? buildout.Capex / margin : null,
            Unpriced = unpriced,
            Replays = searches.Sum(s => s.Evaluated.Count),
            WallSeconds = wall.Elapsed.TotalSeconds,
        };
    }

    /// <summary>
    /// Every trace of the demand in one: arrivals compressed by the growth factor (a trace that grows 40 %
    /// a year for 2 years arrives 1.96× as fast), durations converted to SCU-seconds (trace duration ×
    /// SCU of its reference accelerator), job ids prefixed by the trace's index when there are several.
    /// Model and pod constraints of the trace are dropped: the pool's server type decides them.
    /// </summary>
    public static JobTrace? TrainingTrace(DemandSpec demand, PlanCatalog catalog)
    {
        if (demand.Traces.Count == 0)
        {
            return null;
        }

        var jobs = new List<TraceJob>();
        for (var k = 0; k < demand.Traces.Count; k++)
        {
            var t = demand.Traces[k];
            var speedUp = demand.Growth(t.GrowthPerYear);
            var scu = catalog.ScuOf(t.ReferenceModel) ?? 1;
            jobs.AddRange(t.Trace.Jobs.Select(j => j with
            {
                Id = demand.Traces.Count == 1 ? j.Id : $"{k + 1}:{j.Id}",
                SubmitSeconds = j.SubmitSeconds / speedUp,
                DurationSeconds = j.DurationSeconds * scu,
                Models = [],
                Pods = 0,
            }));
        }

        return new JobTrace(string.Join(" + ", demand.Traces.Select(t => Path.GetFileName(t.Path))), "aicc", jobs);
    }

    /// <summary>The training trace as it runs on <paramref name="type"/>: SCU-seconds divided by the type's SCU.</summary>
    public static JobTrace OnType(JobTrace scuTrace, ServerType type) =>
        new(scuTrace.Source, scuTrace.Format, scuTrace.Jobs.Select(j => j with { DurationSeconds = j.DurationSeconds / type.Scu }));

    private static TypeSearch Search(ServerType type, JobTrace scuTrace, PlanOptions options, int maxServers, Func<ServerType, int, double> cost, Action stepped)
    {
        var trace = OnType(scuTrace, type);
        var perServer = type.Accelerators;
        var largest = trace.Jobs.Count == 0 ? 1 : trace.Jobs.Max(j => Math.Ceiling(j.Gpus));
        var fewest = Math.Max(1, (int)Math.Ceiling(largest / perServer));
        var evaluated = new SortedDictionary<int, Candidate>();
        Candidate Evaluate(int servers)
        {
            if (evaluated.TryGetValue(servers, out var known))
            {
                return known;
            }

            var run = ReplayEngine.Run(new ReplayOptions
            {
                Trace = trace,
                Cluster = ReplayCluster.Uniform(servers * perServer, perServer, type.Accelerator),
                Policy = options.Policy,
                Seed = options.Seed,
            });
            var measured = options.Slo.Measure(run);
            var c = new Candidate(type, servers, measured, options.Slo.IsMet(measured), cost(type, servers), run.WallSeconds);
            evaluated.Add(servers, c);
            stepped();
            return c;
        }

        bool Budget() => evaluated.Count < options.MaxReplaysPerType;
        if (fewest > maxServers)
        {
            // Not even the widest job fits within the bound: one replay at the bound shows how far off it is.
            var at = Evaluate(maxServers);
            return new TypeSearch(type, [.. evaluated.Values], null, at, HitBound: true);
        }

        var span = Math.Max(1, trace.SpanSeconds);
        var atFullLoad = (int)Math.Min(maxServers, Math.Ceiling(trace.TotalGpuSeconds / (span * perServer)));
        var hi = Math.Clamp(atFullLoad, fewest, maxServers);
        var lo = fewest - 1;
        var top = Evaluate(hi);
        while (!top.Met && hi < maxServers && Budget())
        {
            lo = hi;
            hi = (int)Math.Min(maxServers, 2L * hi);
            top = Evaluate(hi);
        }

        if (!top.Met)
        {
            var closest = evaluated.Values.OrderBy(c => Closeness(c, options.Slo)).ThenBy(c => c.Servers).First();
            return new TypeSearch(type, [.. evaluated.Values], null, closest, HitBound: hi >= maxServers);
        }

        while (true)
        {
            // lo does not meet the SLO (or lies below the widest job); hi meets it.
            while (hi - lo > 1 && Budget())
            {
                var mid = lo + ((hi - lo) / 2);
                if (Evaluate(mid).Met)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid;
                }
            }

            // The twin is not strictly monotone in the count (best-effort FIFO can starve a wide gang at one
            // size and not at the next), so the answer must also hold with a few more servers; where it does
            // not, the search resumes above the count that failed.
            var failed = 0;
            for (var k = 1; k <= StabilityMargin && hi + k <= maxServers && Budget(); k++)
            {
                if (!Evaluate(hi + k).Met)
                {
                    failed = hi + k;
                    break;
                }
            }

            if (failed == 0 || !Budget())
            {
                break;
            }

            lo = failed;
            var above = evaluated.Values.Where(c => c.Servers > lo && c.Met).MinBy(c => c.Servers);
            if (above is not null)
            {
                hi = above.Servers;
                continue;
            }

            hi = lo;
            do
            {
                hi = (int)Math.Min(maxServers, 2L * hi);
                top = Evaluate(hi);
            }
            while (!top.Met && hi < maxServers && Budget());
            if (!top.Met)
            {
                var closest = evaluated.Values.OrderBy(c => Closeness(c, options.Slo)).ThenBy(c => c.Servers).First();
                return new TypeSearch(type, [.. evaluated.Values], null, closest, HitBound: hi >= maxServers);
            }
        }

        var best = evaluated[hi];
        return new TypeSearch(type, [.. evaluated.Values], best, best, HitBound: false);
    }

    /// <summary>
    /// GPUs = requests/s × GPU-seconds per request / target utilisation on each allowed type (GPU-ms measured
    /// on a reference model scale by the SCU ratio; TFLOP per request divides by the type's peak TFLOPS × the
    /// site's inference efficiency); the type with the least yearly cost wins, ties to the catalog's order.
    /// </summary>
    public static ServiceSizing SizeService(InferenceDemand service, DemandSpec demand, PlanCatalog catalog)
    {
        var rps = service.RequestsPerSecond * demand.Growth(service.GrowthPerYear);
        var site = catalog.Site;
        var options = new List<(ServerType Type, int Servers, double YearlyCost, double GpuSeconds, double Gpus)>();
        foreach (var type in catalog.Servers)
        {
            if (service.Models.Count > 0 && !service.Models.Contains(type.Accelerator, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            double gpuSeconds;
            if (service.GpuMsPerRequest is { } ms)
            {
                gpuSeconds = ms / 1000 * (catalog.ScuOf(service.ReferenceModel!) ?? type.Scu) / type.Scu;
            }
            else if (type.Tflops > 0)
            {
                gpuSeconds = service.TflopPerRequest!.Value / (type.Tflops * site.InferenceEfficiency);
            }
            else
            {
                continue;
            }

            var gpus = rps * gpuSeconds / service.TargetUtilisation;
            var servers = rps <= 0 ? 0 : Math.Max(1, (int)Math.Ceiling((gpus / type.Accelerators) - 1e-9));
            options.Add((type, servers, servers * YearlyCostPerServer(type, site), gpuSeconds, gpus));
        }

        if (options.Count == 0)
        {
            throw new PlanInputException([new(demand.Source, 0, $"inference.{service.Name}.models", "no server type of the catalog can serve it (TFLOP sizing needs tflops on the type)")]);
        }

        var chosen = options.OrderBy(o => o.YearlyCost).First();
        return new ServiceSizing(service, chosen.Type, rps, chosen.GpuSeconds, chosen.Gpus, chosen.Servers, chosen.YearlyCost,
            [.. options.Select(o => (o.Type, o.Servers, o.YearlyCost))]);
    }

    /// <summary>How far a candidate is from the SLO, as measured / limit to three decimals, so that
    /// near-equal misses are decided by cost rather than by rounding noise.</summary>
    private static double Closeness(Candidate c, Slo slo) =>
        double.IsFinite(c.Measured) ? Math.Round(c.Measured / Math.Max(1e-9, slo.Limit), 3) : double.PositiveInfinity;

    /// <summary>Depreciation, electricity at the average draw × PUE, and maintenance of one server for a year.</summary>
    public static double YearlyCostPerServer(ServerType type, SiteSpec site) =>
        (type.Price / site.DepreciationYears)
        + (type.PowerKw * site.Pue * site.AveragePowerFraction * Buildout.HoursPerYear * site.ElectricityPerKwh)
        + (type.Price * site.MaintenanceFraction);
}
