using ScottPlot;

namespace Aicc.Simulation.Packing;

/// <summary>Allocation against arrived load, one line per policy (the FGD paper's Fig. 9a), as PNG.</summary>
public static class PackingPlot
{
    public static void Write(string path, string title, IReadOnlyList<PackingResult> results, IReadOnlyDictionary<string, double[]>? published = null)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("Arrived GPU demand (% of capacity)");
        plot.YLabel("GPUs allocated (% of capacity)");
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < results.Count; i++)
        {
            var curve = results[i].AllocCurve();
            var xs = Enumerable.Range(0, curve.Length).Where(k => k >= 50 && !double.IsNaN(curve[k])).ToArray();
            var line = plot.Add.Scatter(xs.Select(k => (double)k).ToArray(), xs.Select(k => curve[k]).ToArray(), palette.GetColor(i));
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.LegendText = results[i].Policy;
            if (published is not null && published.TryGetValue(results[i].Policy, out var theirs))
            {
                var ks = Enumerable.Range(0, theirs.Length).Where(k => k >= 50 && !double.IsNaN(theirs[k])).ToArray();
                var dashed = plot.Add.Scatter(ks.Select(k => (double)k).ToArray(), ks.Select(k => theirs[k]).ToArray(), palette.GetColor(i));
                dashed.MarkerSize = 0;
                dashed.LinePattern = LinePattern.Dashed;
                dashed.LegendText = results[i].Policy + " (published)";
            }
        }

        plot.ShowLegend(Alignment.LowerRight);
        plot.Axes.SetLimitsX(50, 131);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp.png");
        plot.SavePng(temp, 900, 600);
        File.Move(temp, full, overwrite: true);
    }
}
