using System.Reflection;
using System.Text.RegularExpressions;
using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Tests.Architecture;

/// <summary>The scheduling core stays pure: no web, database, file or network I/O, no wall clock.</summary>
public partial class CoreIsPureTests
{
    private static readonly Assembly Core = typeof(Scheduler).Assembly;

    [Fact]
    public void Core_ReferencesOnlyTheBaseClassLibrary()
    {
        var allowed = new[] { "System.Runtime", "System.Collections", "System.Linq", "System.Text.Json", "System.Memory" };
        var references = Core.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        var foreign = references.Where(r => !allowed.Contains(r)).ToList();

        Assert.True(foreign.Count == 0, $"Aicc.Scheduling references {string.Join(", ", foreign)}; the core may use only the BCL");
        Assert.DoesNotContain(references, r => r.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || r.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal) || r.StartsWith("System.Net", StringComparison.Ordinal));
    }

    [Fact]
    public void CoreSource_UsesNoIoNetworkOrWallClock()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Aicc.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var files = Directory.GetFiles(Path.Combine(root.FullName, "src", "Aicc.Scheduling"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(files);

        var offences = new List<string>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].TrimStart();
                if (line.StartsWith("//", StringComparison.Ordinal) || line.StartsWith("///", StringComparison.Ordinal))
                {
                    continue;
                }

                if (Banned().IsMatch(line))
                {
                    offences.Add($"{Path.GetRelativePath(root.FullName, file)}:{i + 1}: {line}");
                }
            }
        }

        Assert.True(offences.Count == 0, "the core must stay free of I/O and wall-clock time:\n" + string.Join("\n", offences));
    }

    [GeneratedRegex(@"\bSystem\.IO\b|\bSystem\.Net\b|\bFile\.|\bDirectory\.|\bDateTime(Offset)?\.(Utc)?Now\b|\bEnvironment\.TickCount|\bThread\.Sleep\b|\bTask\.Delay\b|\bConsole\.|Microsoft\.AspNetCore|Microsoft\.EntityFrameworkCore|\bnew\s+Random\s*\(|\bRandom\.Shared\b|\bGuid\.NewGuid\b")]
    private static partial Regex Banned();
}
