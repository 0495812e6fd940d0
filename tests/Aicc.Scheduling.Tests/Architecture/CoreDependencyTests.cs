using System.Reflection;
using System.Text.RegularExpressions;
using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Tests.Architecture;

/// <summary>The scheduling core stays pure: BCL only, no I/O, no network, no wall clock, no sleeping.</summary>
public sealed partial class CoreDependencyTests
{
    private static readonly string[] AllowedAssemblies = ["System.Runtime", "System.Collections", "System.Linq", "System.Text.Json", "System.Memory", "System.Runtime.Intrinsics", "netstandard", "mscorlib"];

    [Fact]
    public void SchedulingAssembly_References_OnlyBaseClassLibraryAssemblies()
    {
        var referenced = typeof(Scheduler).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.NotEmpty(referenced);
        Assert.All(referenced, name => Assert.True(AllowedAssemblies.Contains(name), $"Aicc.Scheduling references {name}, which is not on the core's BCL list"));
        Assert.DoesNotContain(referenced, name => name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || name.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal) || name.StartsWith("System.Net", StringComparison.Ordinal) || name == "System.IO.FileSystem");
    }

    [GeneratedRegex(@"\bSystem\.IO\b|\bSystem\.Net\b|\bFile\.|\bDirectory\.|\bDateTime(Offset)?\.(Utc)?Now\b|\bEnvironment\.TickCount|\bThread\.Sleep\b|\bConsole\.|\bTask\.Delay\b|\bMicrosoft\.AspNetCore\b|\bMicrosoft\.EntityFrameworkCore\b")]
    private static partial Regex Forbidden();

    [Fact]
    public void SchedulingSources_UseNoIoNetworkOrWallClock()
    {
        var root = RepoRoot();
        var files = Directory.EnumerateFiles(Path.Combine(root, "src", "Aicc.Scheduling"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();

        var offences = files
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(root, f), Line: i + 1, Text: line)))
            .Where(l => Forbidden().IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();

        Assert.True(files.Count > 10, $"found only {files.Count} source files under {root}");
        Assert.True(offences.Count == 0, "the scheduling core must stay pure:" + Environment.NewLine + string.Join(Environment.NewLine, offences));
    }

    [Theory]
    [InlineData("var t = DateTime.UtcNow;")]
    [InlineData("using System.IO;")]
    [InlineData("File.ReadAllText(p)")]
    [InlineData("await Task.Delay(5);")]
    [InlineData("var x = DateTimeOffset.Now;")]
    public void ForbiddenPattern_CatchesTypicalOffences(string line)
    {
        Assert.Matches(Forbidden(), line);
    }

    [Fact]
    public void ForbiddenPattern_AllowsStopwatchForPhaseTimings()
    {
        Assert.DoesNotMatch(Forbidden(), "var start = Stopwatch.GetTimestamp();");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Aicc.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Aicc.slnx above {AppContext.BaseDirectory}");
    }
}
