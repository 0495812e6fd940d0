using System.CommandLine;

namespace Aicc.Commands;

/// <summary><c>aicc sim …</c>: replay traces through the real scheduling core on a virtual clock.</summary>
internal static class SimCommand
{
    public static Command Create()
    {
        var sim = new Command("sim", "Simulate placement and queueing on real traces with the same core the server runs.");

        // Packing experiments (FGD protocol).
        sim.Subcommands.Add(SimPackCommand.Create());
        sim.Subcommands.Add(SimPackCompareCommand.Create());
        // Job-trace replay.
        sim.Subcommands.Add(SimReplayCommand.Create());
        return sim;
    }
}
