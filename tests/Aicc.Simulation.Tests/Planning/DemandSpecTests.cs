using Aicc.Simulation.Planning;

namespace Aicc.Simulation.Tests.Planning;

public sealed class DemandSpecTests
{
    [Fact]
    public void Load_FullDemand_ReadsEverySection()
    {
        using var dir = new PlanningFixtures.DemandDir("""
            name: lab
            horizon_years: 2
            slo: avg-queue<=30m
            policy: sjf-oracle
            training:
              models: [H100]
              traces:
                - {path: jobs.csv, growth_per_year: 0.5, reference_model: A100, datasets_tb: 10, start_day: 0, days: 1, jobs: 3}
            inference:
              - {name: chat, requests_per_second: 10, gpu_ms_per_request: 100, models: [H100]}
              - {name: embed, requests_per_second: 100, tflop_per_request: 0.5, target_utilisation: 0.5}
            storage: {datasets_tb: 5, growth_per_year: 1}
            revenue: {utilisation: 0.5, gpu_hour: {H100: 2, A100: 1}}
            search: {max_servers: 64}
            """, PlanningFixtures.Trace((0, 10, 1), (100, 10, 1), (200, 10, 1), (300, 10, 1), (90_000, 10, 1)));
        var d = DemandSpec.Load(dir.DemandFile, PlanningFixtures.TwoTypes());
        Assert.Equal("lab", d.Name);
        Assert.Equal(2.25, d.Growth(0.5), 9);
        Assert.Equal(3, Assert.Single(d.Traces).Trace.Jobs.Count);
        Assert.Equal("H100", d.Inference[0].ReferenceModel);
        Assert.Equal(0.5, d.Inference[1].TflopPerRequest);
        Assert.Equal(64, d.MaxServers);
        Assert.Equal(2, d.GpuHourPrice["h100"]);
    }

    [Fact]
    public void Load_Malformed_ReportsEveryProblemInLineOrder()
    {
        using var dir = new PlanningFixtures.DemandDir("""
            horizon_years: -1
            slo: p95-wait<=1h
            training:
              models: [H100, B200]
              traces:
                - path: missing.csv
                  growth_per_year: lots
            inference:
              - name: chat
                requests_per_second: 10
              - nme: x
            """);
        var e = Assert.Throws<PlanInputException>(() => DemandSpec.Load(dir.DemandFile, PlanningFixtures.TwoTypes()));
        var lines = e.Problems.Select(p => (p.Line, p.Field)).ToList();
        Assert.All(e.Problems, p => Assert.Equal(dir.DemandFile, p.File));
        Assert.Equal(
            [(1, "horizon_years"), (2, "slo"), (4, "training.models"), (6, "training.traces[0].path"), (7, "training.traces[0].growth_per_year"),
             (9, "inference[0].gpu_ms_per_request"), (11, "inference[1].name"), (11, "inference[1].requests_per_second"), (11, "inference[1].gpu_ms_per_request"), (11, "inference[1].nme")],
            lines);
    }

    [Fact]
    public void Load_MalformedTrace_ReportsTheTraceFileLines()
    {
        using var dir = new PlanningFixtures.DemandDir("training:\n  traces:\n    - path: jobs.csv\n");
        File.WriteAllText(Path.Combine(dir.Path, "jobs.csv"), "id,tenant,submit_s,duration_s,gpus\na,x,0,10,1\nb,x,zero,10,1\n");
        var e = Assert.Throws<PlanInputException>(() => DemandSpec.Load(dir.DemandFile, PlanningFixtures.TwoTypes()));
        var p = Assert.Single(e.Problems);
        Assert.EndsWith("jobs.csv", p.File, StringComparison.Ordinal);
        Assert.Equal((3, "submit_s"), (p.Line, p.Field));
    }

    [Fact]
    public void Window_CutsArrivalsAndRestartsTheClock()
    {
        var trace = PlanningFixtures.Trace((0, 1, 1), (86_400, 1, 1), (90_000, 1, 1), (200_000, 1, 1));
        var cut = DemandSpec.Window(trace, startDay: 1, days: 1, jobs: null);
        Assert.Equal([0.0, 3600.0], cut.Jobs.Select(j => j.SubmitSeconds));
    }
}
