using Aicc.Simulation.Planning;
using Aicc.Simulation.Replay;

namespace Aicc.Simulation.Tests.Planning;

public sealed class PlannerTests
{
    private static PlanResult Plan(string demandYaml, string slo, Aicc.Simulation.Traces.JobTrace? trace = null, int? maxServers = null)
    {
        using var dir = new PlanningFixtures.DemandDir(demandYaml, trace);
        var catalog = PlanningFixtures.TwoTypes();
        return Planner.Run(new PlanOptions
        {
            Demand = DemandSpec.Load(dir.DemandFile, catalog),
            Catalog = catalog,
            Slo = Slo.Parse(slo, out _)!,
            Policy = ReplayPolicy.Find("fifo")!,
            MaxServers = maxServers,
        });
    }

    private const string TrainingOnly = """
        training:
          traces:
            - {path: jobs.csv, reference_model: A100}
        """;

    [Fact]
    public void Run_Training_ChoosesTheSmallestCountThatMeetsTheSloPerType()
    {
        const int seed = 3;
        var trace = PlanningFixtures.Generated(400, seed);
        var plan = Plan(TrainingOnly, "p95-queue<=10m", trace);
        Assert.True(plan.SloMet, $"seed {seed}");
        foreach (var s in plan.Searches)
        {
            var best = Assert.IsType<Candidate>(s.Best);
            Assert.True(best.Met && best.Measured <= 600, $"seed {seed}: {s.Type.Name} at {best.Servers} measured {best.Measured}");
            if (best.Servers > 1)
            {
                // Bisection ends next to a count that misses the SLO (or below the widest job).
                var below = s.Evaluated.SingleOrDefault(c => c.Servers == best.Servers - 1);
                Assert.True(below is null ? best.Servers == 1 : !below.Met, $"seed {seed}: {s.Type.Name}: {best.Servers - 1} servers also met it");
            }
        }

        Assert.Equal(plan.Searches.Min(s => s.Best!.YearlyCost), plan.Training!.YearlyCost);
    }

    [Fact]
    public void Run_FasterType_NeedsFewerServersForTheSameTrace()
    {
        var plan = Plan(TrainingOnly, "avg-queue<=5m", PlanningFixtures.Generated(400, 5));
        var slow = plan.Searches.Single(s => s.Type.Name == "slow").Best!;
        var fast = plan.Searches.Single(s => s.Type.Name == "fast").Best!;
        Assert.True(fast.Servers < slow.Servers, $"fast {fast.Servers} vs slow {slow.Servers}");
    }

    [Fact]
    public void Run_GrowthCompressesArrivalsAndScuConvertsDurations()
    {
        var trace = PlanningFixtures.Trace((0, 100, 1), (1000, 100, 1));
        var plan = Plan("""
            horizon_years: 1
            training:
              traces:
                - {path: jobs.csv, reference_model: H100, growth_per_year: 1}
            """, "avg-queue<=1h", trace);
        var grown = plan.TrainingTrace!;
        Assert.Equal([0.0, 500.0], grown.Jobs.Select(j => j.SubmitSeconds));
        Assert.All(grown.Jobs, j => Assert.Equal(200, j.DurationSeconds, 9));
        var onSlow = Planner.OnType(grown, PlanningFixtures.TwoTypes().Servers[0]);
        Assert.All(onSlow.Jobs, j => Assert.Equal(200, j.DurationSeconds, 9));
    }

    [Fact]
    public void Run_UnreachableSlo_StopsAtTheBoundAndShowsTheClosestMix()
    {
        var plan = Plan(TrainingOnly, "avg-jct-ratio<=0.5", PlanningFixtures.Generated(200, 9), maxServers: 40);
        Assert.False(plan.SloMet);
        Assert.All(plan.Searches, s =>
        {
            Assert.Null(s.Best);
            Assert.True(s.HitBound);
            Assert.InRange(s.Evaluated.Count, 1, 8);
            Assert.Contains(s.Evaluated, c => c.Servers == 40);
        });
        Assert.NotNull(plan.Training);
        Assert.True(plan.Training.Measured >= 1);
    }

    [Fact]
    public void Run_WidestJobBeyondTheBound_IsNotMetAndSaysHowFar()
    {
        var plan = Plan(TrainingOnly, "avg-queue<=1h", PlanningFixtures.Trace((0, 100, 64)), maxServers: 4);
        Assert.False(plan.SloMet);
        Assert.All(plan.Searches, s => Assert.True(double.IsPositiveInfinity(Assert.Single(s.Evaluated).Measured)));
    }

    [Fact]
    public void SizeService_GpuMsAndTflop_FollowTheFormula()
    {
        var catalog = PlanningFixtures.TwoTypes();
        var demand = new DemandSpec { Source = "d", HorizonYears = 1 };
        var chat = Planner.SizeService(new InferenceDemand { Name = "chat", RequestsPerSecond = 100, GpuMsPerRequest = 480, ReferenceModel = "A100", Models = ["H100"], TargetUtilisation = 0.5, GrowthPerYear = 0.5 }, demand, catalog);
        // 150 req/s × 0.24 GPU-s (480 ms on A100 at half the H100's SCU) / 0.5 = 72 GPUs = 9 servers.
        Assert.Equal(("fast", 150.0, 72.0, 9), (chat.Type.Name, chat.RequestsPerSecond, Math.Round(chat.GpusNeeded, 9), chat.Servers));
        var embed = Planner.SizeService(new InferenceDemand { Name = "e", RequestsPerSecond = 1000, TflopPerRequest = 1.2, TargetUtilisation = 0.8 }, new DemandSpec { Source = "d" }, catalog);
        // slow: 1.2 / (300 × 0.5) s × 1000 / 0.8 = 10 GPUs = 2 servers; fast: 3 GPUs = 1 server, dearer per year.
        Assert.Equal(("slow", 2), (embed.Type.Name, embed.Servers));
        Assert.Equal(2, embed.Alternatives.Count);
        Assert.True(embed.YearlyCost < embed.Alternatives.Single(a => a.Type.Name == "fast").YearlyCost);
    }

    [Fact]
    public void Run_RevenueAndPayback_FromPricesAndUtilisation()
    {
        var plan = Plan("""
            inference:
              - {name: chat, requests_per_second: 1, gpu_ms_per_request: 1000, reference_model: A100, models: [A100], target_utilisation: 1}
            revenue: {utilisation: 0.5, gpu_hour: {A100: 2}}
            """, "avg-queue<=1h");
        var b = plan.Buildout;
        Assert.Equal(1, b.ServerTotal);
        Assert.Equal(8 * 8760 * 0.5 * 2, plan.RevenuePerYear, 6);
        Assert.Equal(b.Capex / (plan.RevenuePerYear - b.OpexPerYear), plan.PaybackYears!.Value, 6);
        Assert.True(plan.SloMet);
        Assert.Empty(plan.Searches);
    }

    [Fact]
    public void Run_SameInputs_SamePlan()
    {
        var trace = PlanningFixtures.Generated(300, 21);
        var a = Plan(TrainingOnly, "p90-queue<=15m", trace);
        var b = Plan(TrainingOnly, "p90-queue<=15m", trace);
        Assert.Equal(
            a.Searches.SelectMany(s => s.Evaluated).Select(c => (c.Type.Name, c.Servers, c.Measured)),
            b.Searches.SelectMany(s => s.Evaluated).Select(c => (c.Type.Name, c.Servers, c.Measured)));
    }

    [Fact]
    public void Write_PlanFiles_HaveTheFiguresAndAPng()
    {
        var plan = Plan(TrainingOnly, "p95-queue<=10m", PlanningFixtures.Generated(200, 4));
        var dir = Path.Combine(Path.GetTempPath(), $"aicc-plan-out-{Guid.NewGuid():N}");
        try
        {
            var files = PlanReport.Write(plan, dir);
            Assert.Equal(3, files.Count);
            var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, PlanReport.JsonFile))).RootElement;
            Assert.True(json.GetProperty("slo_met").GetBoolean());
            Assert.Equal(plan.Buildout.Gpus, json.GetProperty("totals").GetProperty("gpus").GetInt32());
            Assert.Equal(plan.Buildout.Network.Leaves, json.GetProperty("network").GetProperty("leaf_switches").GetInt32());
            Assert.Contains("## Money", File.ReadAllText(Path.Combine(dir, PlanReport.MarkdownFile)), StringComparison.Ordinal);
            var png = File.ReadAllBytes(Path.Combine(dir, PlanReport.PlotFile));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
