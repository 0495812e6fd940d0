namespace Aicc.Simulation.Replay;

/// <summary>Plots of a replay (placeholder until the SVG writer lands).</summary>
public static class ReplayPlots
{
    public static void Write(ReplayRun run, ReplaySummary summary, string directory) => Directory.CreateDirectory(directory);
}
