using System.CommandLine;

namespace Aicc.Commands;

/// <summary><c>aicc bench …</c>: measurements that print one JSON object.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure Aicc's own speed and print one JSON object.");
        bench.Subcommands.Add(BenchPlacementCommand.Create());
        bench.Subcommands.Add(BenchApiCommand.Create());
        return bench;
    }
}
