using Aicc.Cli;
using Aicc.Commands;

namespace Aicc.Tests;

public sealed class CliParsingTests
{
    [Fact]
    public void QuotaParse_DevicesAndMemory_ScaleToTheWireUnits()
    {
        var (key, quota) = QuotaCommand.Parse("accelerator/A100=8:4");
        var (memKey, memory) = QuotaCommand.Parse("memory=1024");
        Assert.Equal("accelerator/A100", key);
        Assert.Equal(8000, quota["nominal"]!.GetValue<long>());
        Assert.Equal(4000, quota["borrowingLimit"]!.GetValue<long>());
        Assert.Equal("memory", memKey);
        Assert.Equal(1024, memory["nominal"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("cpu=-1")]
    [InlineData("cpu=x")]
    [InlineData("cpu=1:2:3:4")]
    public void QuotaParse_BadItem_IsAUsageError(string item)
    {
        var e = Assert.Throws<CliException>(() => QuotaCommand.Parse(item));
        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }

    [Fact]
    public void ReadJobFile_UnknownField_NamesFileAndLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"aicc-job-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "name: x\nqueue: default\ncommnd: [\"true\"]\n");
        try
        {
            var e = Assert.Throws<CliException>(() => JobCommand.ReadJobFile(path));
            Assert.Equal(ExitCodes.Usage, e.ExitCode);
            Assert.StartsWith($"{path}:3:", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("one-gpu.yaml", 1)]
    [InlineData("fractional.yaml", 1)]
    [InlineData("gang-2x4.yaml", 2)]
    [InlineData("ddp.yaml", 2)]
    public void ReadJobFile_Examples_ParseAndPassTheApiChecks(string file, int pods)
    {
        var spec = JobCommand.ReadJobFile(Path.Combine(Repo.Root, "examples", file));
        Assert.Empty(spec.Validate());
        Assert.Equal(pods, spec.PodCount);
    }
}

internal static class Repo
{
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Aicc.slnx")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new DirectoryNotFoundException("Aicc.slnx not found above " + AppContext.BaseDirectory);
        }
    }
}
