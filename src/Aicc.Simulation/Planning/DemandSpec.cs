using Aicc.Simulation.Replay;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Planning;

/// <summary>A job trace the training pool must serve, already cut to its window.</summary>
public sealed record TraceDemand
{
    public required string Path { get; init; }

    public required JobTrace Trace { get; init; }

    /// <summary>Yearly growth of the arrival rate (0.4 = +40 % a year).</summary>
    public double GrowthPerYear { get; init; }

    /// <summary>The accelerator the trace's durations were measured on; its SCU converts them to other models.</summary>
    public required string ReferenceModel { get; init; }

    public double DatasetsTb { get; init; }
}

/// <summary>An inference service: a request rate and the compute one request takes.</summary>
public sealed record InferenceDemand
{
    public required string Name { get; init; }

    public required double RequestsPerSecond { get; init; }

    /// <summary>Accelerator-milliseconds per request on <see cref="ReferenceModel"/> (or null: <see cref="TflopPerRequest"/>).</summary>
    public double? GpuMsPerRequest { get; init; }

    public string? ReferenceModel { get; init; }

    /// <summary>TFLOP per request, served at the catalog's inference efficiency of each model's peak.</summary>
    public double? TflopPerRequest { get; init; }

    /// <summary>Accelerator models the service may run on (empty = any in the catalog).</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>Busy fraction the service is sized for; the rest is headroom for bursts.</summary>
    public double TargetUtilisation { get; init; } = 0.6;

    public double GrowthPerYear { get; init; }
}

/// <summary>What the center must serve (docs/planner.md): traces to replay, inference services, datasets, prices.</summary>
public sealed record DemandSpec
{
    public required string Source { get; init; }

    public string Name { get; init; } = "plan";

    /// <summary>Years ahead the plan is sized for: every growth factor is applied this many times.</summary>
    public double HorizonYears { get; init; }

    public string? Slo { get; init; }

    public string? Policy { get; init; }

    /// <summary>Accelerator models the training pool may use (empty = every model in the catalog).</summary>
    public IReadOnlyList<string> TrainingModels { get; init; } = [];

    public IReadOnlyList<TraceDemand> Traces { get; init; } = [];

    public IReadOnlyList<InferenceDemand> Inference { get; init; } = [];

    public double StorageTb { get; init; }

    public double StorageGrowthPerYear { get; init; }

    /// <summary>Expected share of GPU-hours sold, for revenue.</summary>
    public double RevenueUtilisation { get; init; } = 0.6;

    /// <summary>Price of one GPU-hour by accelerator model.</summary>
    public IReadOnlyDictionary<string, double> GpuHourPrice { get; init; } = new Dictionary<string, double>();

    /// <summary>Largest server count the search tries per type.</summary>
    public int MaxServers { get; init; } = 2048;

    public double Growth(double perYear) => Math.Pow(1 + perYear, HorizonYears);

    /// <summary>Reads a demand file; trace paths are relative to it. Every problem (of the file and of the traces it names) is reported at once.</summary>
    public static DemandSpec Load(string path, PlanCatalog catalog)
    {
        if (!File.Exists(path))
        {
            throw new PlanInputException([new(path, 0, "file", "does not exist")]);
        }

        return Parse(path, File.ReadAllText(path), catalog);
    }

    public static DemandSpec Parse(string file, string text, PlanCatalog catalog)
    {
        var y = new YamlFields(file);
        var root = y.Root(text) ?? throw y.Failure();
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file)) ?? ".";
        var models = new HashSet<string>(catalog.Servers.Select(s => s.Accelerator), StringComparer.OrdinalIgnoreCase);
        var known = string.Join(", ", models.Order(StringComparer.OrdinalIgnoreCase));

        void CheckModels(YamlFields.Map m, string key, IEnumerable<string> names)
        {
            foreach (var name in names.Where(n => !models.Contains(n)))
            {
                m.Problem(key, $"'{name}' is not an accelerator of the catalog ({known})");
            }
        }

        var name = root.String("name") ?? "plan";
        var horizon = root.Number("horizon_years", 0, 30) ?? 0;
        var slo = root.String("slo");
        if (slo is not null && Planning.Slo.Parse(slo, out var sloProblem) is null)
        {
            root.Problem("slo", sloProblem!);
        }

        var policy = root.String("policy");
        if (policy is not null && ReplayPolicy.Find(policy) is null)
        {
            root.Problem("policy", $"'{policy}' is unknown (choose {ReplayPolicy.Names})");
        }

        var trainingModels = new List<string>();
        var traces = new List<TraceDemand>();
        if (root.Child("training") is { } training)
        {
            trainingModels = training.Words("models");
            CheckModels(training, "models", trainingModels);
            foreach (var t in training.Maps("traces", required: true))
            {
                traces.AddRange(ReadTrace(t, dir, y, models, known));
                t.RejectUnknown();
            }

            training.RejectUnknown();
        }

        var inference = new List<InferenceDemand>();
        var serviceNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in root.Maps("inference"))
        {
            var service = ReadService(s, models, known);
            if (service is not null && !serviceNames.Add(service.Name))
            {
                s.Problem("name", $"'{service.Name}' appears twice");
            }
            else if (service is not null)
            {
                inference.Add(service);
            }

            s.RejectUnknown();
        }

        double storageTb = 0, storageGrowth = 0;
        if (root.Child("storage") is { } storage)
        {
            storageTb = storage.Number("datasets_tb", 0, 1e9) ?? 0;
            storageGrowth = storage.Number("growth_per_year", -0.99, 100) ?? 0;
            storage.RejectUnknown();
        }

        double utilisation = 0.6;
        var prices = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        if (root.Child("revenue") is { } revenue)
        {
            utilisation = revenue.Number("utilisation", 0, 1) ?? utilisation;
            prices = revenue.NumberMap("gpu_hour", 0, 10_000);
            CheckModels(revenue, "gpu_hour", prices.Keys);
            revenue.RejectUnknown();
        }

        var maxServers = 2048;
        if (root.Child("search") is { } search)
        {
            maxServers = search.Integer("max_servers", 1, 1_000_000) ?? maxServers;
            search.RejectUnknown();
        }

        root.RejectUnknown();
        if (y.Problems.Count == 0 && traces.Count == 0 && inference.Count == 0)
        {
            y.Problems.Add(new(file, 1, "training", "the demand names no training traces and no inference services"));
        }

        if (y.Problems.Count > 0)
        {
            throw y.Failure();
        }

        return new DemandSpec
        {
            Source = file,
            Name = name,
            HorizonYears = horizon,
            Slo = slo,
            Policy = policy,
            TrainingModels = trainingModels,
            Traces = traces,
            Inference = inference,
            StorageTb = storageTb,
            StorageGrowthPerYear = storageGrowth,
            RevenueUtilisation = utilisation,
            GpuHourPrice = prices,
            MaxServers = maxServers,
        };
    }

    private static List<TraceDemand> ReadTrace(YamlFields.Map t, string dir, YamlFields y, HashSet<string> models, string known)
    {
        var path = t.String("path", required: true);
        var growth = t.Number("growth_per_year", -0.99, 100) ?? 0;
        var reference = t.String("reference_model") ?? "A100";
        if (!models.Contains(reference))
        {
            t.Problem("reference_model", $"'{reference}' is not an accelerator of the catalog ({known}): the trace's durations cannot be converted");
        }

        var jobs = t.Integer("jobs", 1, 10_000_000);
        var startDay = t.Number("start_day", 0, 100_000) ?? 0;
        var days = t.Number("days", 0.001, 100_000);
        var datasets = t.Number("datasets_tb", 0, 1e9) ?? 0;
        if (path is null)
        {
            return [];
        }

        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, path));
        JobTrace trace;
        try
        {
            trace = JobTraceReader.Read(full);
        }
        catch (JobTraceException ex)
        {
            if (ex.Problems.Count == 1 && ex.Problems[0].Field == "file")
            {
                t.Problem("path", $"{full} does not exist");
            }
            else
            {
                y.Problems.AddRange(ex.Problems);
            }

            return [];
        }

        trace = Window(trace, startDay, days, jobs);
        if (trace.Jobs.Count == 0)
        {
            t.Problem("path", $"{full}: no jobs in the chosen window");
            return [];
        }

        return [new TraceDemand { Path = full, Trace = trace, GrowthPerYear = growth, ReferenceModel = reference, DatasetsTb = datasets }];
    }

    /// <summary>Arrivals from <paramref name="startDay"/> for <paramref name="days"/> (all when null), then the first <paramref name="jobs"/> of them; times restart at 0.</summary>
    public static JobTrace Window(JobTrace trace, double startDay, double? days, int? jobs)
    {
        if (trace.Jobs.Count == 0)
        {
            return trace;
        }

        var t0 = trace.Jobs[0].SubmitSeconds + (startDay * 86_400);
        var t1 = days is { } d ? t0 + (d * 86_400) : double.PositiveInfinity;
        var kept = trace.Jobs.Where(j => j.SubmitSeconds >= t0 && j.SubmitSeconds < t1);
        if (jobs is { } n)
        {
            kept = kept.Take(n);
        }

        var list = kept.ToList();
        var first = list.Count == 0 ? 0 : list[0].SubmitSeconds;
        return new JobTrace(trace.Source, trace.Format, list.Select(j => j with { SubmitSeconds = j.SubmitSeconds - first }));
    }

    private static InferenceDemand? ReadService(YamlFields.Map s, HashSet<string> models, string known)
    {
        var name = s.String("name", required: true);
        var rps = s.Number("requests_per_second", 0, 1e9, required: true);
        var gpuMs = s.Number("gpu_ms_per_request", 1e-6, 1e9);
        var tflop = s.Number("tflop_per_request", 1e-9, 1e12);
        var reference = s.String("reference_model");
        var allowed = s.Words("models");
        var target = s.Number("target_utilisation", 0.01, 1) ?? 0.6;
        var growth = s.Number("growth_per_year", -0.99, 100) ?? 0;
        foreach (var m in allowed.Where(m => !models.Contains(m)))
        {
            s.Problem("models", $"'{m}' is not an accelerator of the catalog ({known})");
        }

        if ((s.Get("gpu_ms_per_request") is null) == (s.Get("tflop_per_request") is null))
        {
            s.Problem("gpu_ms_per_request", "give exactly one of gpu_ms_per_request and tflop_per_request");
            return null;
        }

        if (gpuMs is not null)
        {
            reference ??= allowed.FirstOrDefault();
            if (reference is null)
            {
                s.Problem("reference_model", "gpu_ms_per_request needs the model it was measured on (reference_model, or a first entry in models)");
            }
            else if (!models.Contains(reference))
            {
                s.Problem("reference_model", $"'{reference}' is not an accelerator of the catalog ({known})");
            }
        }

        if (name is null || rps is null || (gpuMs is null && tflop is null))
        {
            return null;
        }

        return new InferenceDemand
        {
            Name = name,
            RequestsPerSecond = rps.Value,
            GpuMsPerRequest = gpuMs,
            ReferenceModel = reference,
            TflopPerRequest = tflop,
            Models = allowed,
            TargetUtilisation = target,
            GrowthPerYear = growth,
        };
    }
}
