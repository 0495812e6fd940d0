using Aicc.Simulation.Planning;
using Aicc.Simulation.Replay;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Tests.Planning;

/// <summary>Small builders for the planner's tests: traces, a two-type catalog, demands.</summary>
internal static class PlanningFixtures
{
    public static JobTrace Trace(params (double Submit, double Duration, double Gpus)[] jobs) =>
        new("t", "aicc", jobs.Select((j, i) => new TraceJob { Id = $"j{i}", Tenant = "a", SubmitSeconds = j.Submit, DurationSeconds = j.Duration, Gpus = j.Gpus }));

    public static ReplayRun Replay(JobTrace trace, int servers, int perServer = 8) => ReplayEngine.Run(new ReplayOptions
    {
        Trace = trace,
        Cluster = ReplayCluster.Uniform(servers * perServer, perServer, "A100"),
        Policy = ReplayPolicy.Find("fifo")!,
    });

    /// <summary>A seeded synthetic trace: arrivals every ~<paramref name="gap"/> s, 1-8 GPU jobs of 5-60 min.</summary>
    public static JobTrace Generated(int jobs, int seed, double gap = 60)
    {
        var random = new Random(seed);
        var t = 0.0;
        var list = new List<TraceJob>();
        for (var i = 0; i < jobs; i++)
        {
            t += random.NextDouble() * 2 * gap;
            list.Add(new TraceJob
            {
                Id = $"j{i}",
                Tenant = $"t{random.Next(3)}",
                SubmitSeconds = Math.Round(t),
                DurationSeconds = 300 + random.Next(3300),
                Gpus = random.Next(4) switch { 0 => 1, 1 => 2, 2 => 4, _ => 8 },
            });
        }

        return new JobTrace("generated", "aicc", list);
    }

    public const string Catalog = """
        site:
          pue: 1.5
          electricity_per_kwh: 0.1
          average_power_fraction: 1
          depreciation_years: 4
          maintenance_fraction: 0.1
          rack_power_kw: 20
          rack_units: 42
          switch_ports: 8
          switch_price: 1000
          switch_power_kw: 1
          storage_price_per_tb: 100
          storage_overhead: 2
          storage_kw_per_pb: 10
          inference_efficiency: 0.5
        servers:
          - name: slow
            accelerator: A100
            accelerators: 8
            scu: 1
            tflops: 300
            price: 100000
            power_kw: 6
            rack_units: 6
          - name: fast
            accelerator: H100
            accelerators: 8
            scu: 2
            tflops: 1000
            price: 250000
            power_kw: 10
            rack_units: 8
        """;

    public static PlanCatalog TwoTypes() => PlanCatalog.Parse("catalog.yaml", Catalog, null);

    /// <summary>A temporary directory with a demand file and its trace; deleted on dispose.</summary>
    public sealed class DemandDir : IDisposable
    {
        public DemandDir(string demand, JobTrace? trace = null)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"aicc-plan-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path);
            if (trace is not null)
            {
                File.WriteAllText(System.IO.Path.Combine(Path, "jobs.csv"), JobTraceCsv.Write(trace.Jobs));
            }

            DemandFile = System.IO.Path.Combine(Path, "demand.yaml");
            File.WriteAllText(DemandFile, demand);
        }

        public string Path { get; }

        public string DemandFile { get; }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
