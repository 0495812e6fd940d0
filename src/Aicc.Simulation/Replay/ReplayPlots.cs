using System.Globalization;
using System.Text;

namespace Aicc.Simulation.Replay;

/// <summary>
/// Plots of a replay as self-contained SVG files (no native dependency, readable in any browser):
/// queue length and GPU utilisation over time, and the JCT CDF on a log axis.
/// </summary>
public static class ReplayPlots
{
    private const int Width = 800, Height = 420, Left = 70, Right = 20, Top = 40, Bottom = 50;
    private const int MaxPoints = 2000;

    public static IReadOnlyList<string> Write(ReplayRun run, ReplaySummary summary, string directory)
    {
        Directory.CreateDirectory(directory);
        var timeline = Downsample(run.Timeline);
        var days = timeline.Select(p => p.Time / 86_400).ToArray();
        var files = new List<string>
        {
            Save(directory, "queue-length.svg", Line($"Jobs waiting — {summary.Policy}", "days", "jobs waiting", days, [.. timeline.Select(p => (double)p.Pending)], logX: false)),
            Save(directory, "utilisation.svg", Line($"GPU utilisation — {summary.Policy}", "days", "% of GPUs busy", days, [.. timeline.Select(p => 100 * p.BusyGpus / Math.Max(1, summary.Gpus))], logX: false)),
        };
        var jct = run.Jobs.Where(j => j.Finished).Select(j => Math.Max(1, j.Jct)).Order().ToArray();
        var step = Math.Max(1, jct.Length / MaxPoints);
        var xs = jct.Where((_, i) => i % step == 0 || i == jct.Length - 1).ToArray();
        var ys = jct.Select((_, i) => (i + 1) * 100.0 / jct.Length).Where((_, i) => i % step == 0 || i == jct.Length - 1).ToArray();
        files.Add(Save(directory, "jct-cdf.svg", Line($"JCT CDF — {summary.Policy}", "job completion time, s (log)", "% of jobs", xs, ys, logX: true)));
        return files;
    }

    private static List<(double Time, int Pending, double BusyGpus)> Downsample(List<(double Time, int Pending, double BusyGpus)> points)
    {
        if (points.Count <= MaxPoints)
        {
            return points;
        }

        var step = points.Count / (double)MaxPoints;
        return [.. Enumerable.Range(0, MaxPoints).Select(i => points[(int)(i * step)])];
    }

    private static string Save(string directory, string name, string svg)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, svg);
        return path;
    }

    /// <summary>One polyline on linear or log-10 x, linear y from 0, with ticks and labels.</summary>
    public static string Line(string title, string xLabel, string yLabel, double[] xs, double[] ys, bool logX)
    {
        var c = CultureInfo.InvariantCulture;
        double Fx(double x) => logX ? Math.Log10(Math.Max(x, 1e-9)) : x;
        var x0 = xs.Length == 0 ? 0 : Fx(xs.Min());
        var x1 = xs.Length == 0 ? 1 : Fx(xs.Max());
        if (x1 <= x0)
        {
            x1 = x0 + 1;
        }

        var y1 = ys.Length == 0 ? 1 : Math.Max(1e-9, ys.Max()) * 1.05;
        double Px(double x) => Left + ((Fx(x) - x0) / (x1 - x0) * (Width - Left - Right));
        double Py(double y) => Height - Bottom - (y / y1 * (Height - Top - Bottom));
        var sb = new StringBuilder();
        sb.Append(c, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(c, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(c, $"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n");
        sb.Append(c, $"<line x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - Right}\" y2=\"{Height - Bottom}\" stroke=\"black\"/>\n");
        sb.Append(c, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Height - Bottom}\" stroke=\"black\"/>\n");
        for (var i = 0; i <= 5; i++)
        {
            var fx = x0 + ((x1 - x0) * i / 5);
            var px = Left + ((Width - Left - Right) * i / 5.0);
            var label = logX ? Math.Pow(10, fx).ToString("G3", c) : fx.ToString("G4", c);
            sb.Append(c, $"<text x=\"{px:0.#}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{label}</text>\n");
            var yv = y1 * i / 5;
            sb.Append(c, $"<text x=\"{Left - 6}\" y=\"{Py(yv) + 4:0.#}\" text-anchor=\"end\">{yv.ToString("G4", c)}</text>\n");
            sb.Append(c, $"<line x1=\"{Left}\" y1=\"{Py(yv):0.#}\" x2=\"{Width - Right}\" y2=\"{Py(yv):0.#}\" stroke=\"#ddd\"/>\n");
        }

        sb.Append(c, $"<text x=\"{(Width + Left) / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        sb.Append(c, $"<text x=\"16\" y=\"{Height / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Height / 2})\">{Escape(yLabel)}</text>\n");
        sb.Append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
        for (var i = 0; i < xs.Length; i++)
        {
            sb.Append(c, $"{Px(xs[i]):0.#},{Py(ys[i]):0.#} ");
        }

        sb.Append("\"/>\n</svg>\n");
        return sb.ToString();
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
