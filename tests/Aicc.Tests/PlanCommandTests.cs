using System.Text.Json;
using Aicc.Commands;

namespace Aicc.Tests;

public sealed class PlanCommandTests
{
    private static string Example(string file) => Path.Combine(Repo.Root, "examples", "plan", file);

    private static string TempDir() => Path.Combine(Path.GetTempPath(), $"aicc-plan-cmd-{Guid.NewGuid():N}");

    [Fact]
    public void Run_Example_MeetsItsSloAndWritesThePlan()
    {
        var dir = TempDir();
        try
        {
            var code = PlanCommand.Run(Example("demand.yaml"), Example("catalog.yaml"), null, null, null, dir, json: false);
            Assert.Equal(ExitCodes.Ok, code);
            var plan = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "plan.json"))).RootElement;
            Assert.True(plan.GetProperty("slo_met").GetBoolean());
            Assert.Equal("p95-queue<=1h", plan.GetProperty("slo").GetString());
            Assert.True(plan.GetProperty("training").GetProperty("measured").GetDouble() <= 3600);
            Assert.Equal(2, plan.GetProperty("inference").GetArrayLength());
            Assert.True(plan.GetProperty("totals").GetProperty("gpus").GetInt32() > 0);
            Assert.True(plan.GetProperty("revenue").GetProperty("payback_years").GetDouble() > 0);
            Assert.True(File.Exists(Path.Combine(dir, "plan.md")));
            Assert.True(new FileInfo(Path.Combine(dir, "cost-vs-slo.png")).Length > 1000);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Run_UnreachableSlo_ExitsSloNotMetAndStillWritesTheClosestPlan()
    {
        var dir = TempDir();
        try
        {
            var code = PlanCommand.Run(Example("demand.yaml"), Example("catalog.yaml"), "avg-jct-ratio<=0.9", null, 64, dir, json: false);
            Assert.Equal(ExitCodes.SloNotMet, code);
            var plan = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "plan.json"))).RootElement;
            Assert.False(plan.GetProperty("slo_met").GetBoolean());
            Assert.True(plan.GetProperty("training").GetProperty("servers").GetInt32() > 0);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData("slo: p95-queue<=1h\nunknown: 1\n", null)]
    [InlineData("training:\n  traces:\n    - path: nowhere.csv\n", null)]
    [InlineData("inference:\n  - {name: a, requests_per_second: 1, tflop_per_request: 1}\n", "bad flag")]
    public void Run_BadInput_IsAUsageError(string demand, string? badSlo)
    {
        var dir = TempDir();
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, "demand.yaml");
            File.WriteAllText(file, demand);
            Assert.Equal(ExitCodes.Usage, PlanCommand.Run(file, null, badSlo, null, null, Path.Combine(dir, "out"), json: false));
            Assert.False(Directory.Exists(Path.Combine(dir, "out")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
