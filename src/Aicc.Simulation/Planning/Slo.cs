using System.Globalization;
using System.Text.RegularExpressions;
using Aicc.Simulation.Replay;

namespace Aicc.Simulation.Planning;

/// <summary>What an SLO measures on a replay.</summary>
public enum SloMetric
{
    /// <summary>A percentile of job queueing (JCT − run time), seconds.</summary>
    QueuePercentile,

    /// <summary>Average job queueing, seconds.</summary>
    AverageQueue,

    /// <summary>Average JCT over its zero-queueing lower bound (the average run time).</summary>
    AverageJctRatio,
}

/// <summary>
/// A service-level objective on the training replay: <c>p95-queue&lt;=1h</c> (any percentile 1..100),
/// <c>avg-queue&lt;=30m</c>, <c>avg-jct-ratio&lt;=1.5</c>. Durations take s, m, h or d (plain numbers are
/// seconds). Every SLO is an upper bound, so more capacity never makes it harder to meet in a
/// work-conserving replay (the planner's bisection relies on that).
/// </summary>
public sealed partial record Slo(SloMetric Metric, double Percentile, double Limit, string Text)
{
    public const string Forms = "pNN-queue<=DURATION, avg-queue<=DURATION, avg-jct-ratio<=X (DURATION: 90s, 30m, 1h, 2d)";

    /// <summary>The SLO, or null with the reason.</summary>
    public static Slo? Parse(string text, out string? problem)
    {
        problem = null;
        var m = SloPattern().Match(text.Replace(" ", "", StringComparison.Ordinal));
        if (!m.Success)
        {
            problem = $"'{text}' is not an SLO: expected {Forms}";
            return null;
        }

        var what = m.Groups["what"].Value.ToLowerInvariant();
        var value = m.Groups["value"].Value;
        if (what == "avg-jct-ratio")
        {
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) || !double.IsFinite(ratio) || ratio <= 0)
            {
                problem = $"'{value}' is not a positive ratio";
                return null;
            }

            return new Slo(SloMetric.AverageJctRatio, 0, ratio, text);
        }

        if (ParseDuration(value) is not { } seconds)
        {
            problem = $"'{value}' is not a duration like 90s, 30m, 1h or 2d";
            return null;
        }

        if (what == "avg-queue")
        {
            return new Slo(SloMetric.AverageQueue, 0, seconds, text);
        }

        var p = int.Parse(m.Groups["p"].Value, CultureInfo.InvariantCulture);
        if (p is < 1 or > 100)
        {
            problem = $"p{p}: a percentile is 1..100";
            return null;
        }

        return new Slo(SloMetric.QueuePercentile, p, seconds, text);
    }

    public static double? ParseDuration(string text)
    {
        var m = DurationPattern().Match(text);
        if (!m.Success || !double.TryParse(m.Groups["n"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0)
        {
            return null;
        }

        return n * (m.Groups["unit"].Value.ToLowerInvariant() switch
        {
            "m" or "min" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => 1,
        });
    }

    /// <summary>The measured value on a replay (+∞ when some job could not run at all).</summary>
    public double Measure(ReplayRun run)
    {
        if (run.Rejected.Count > 0 || run.Jobs.Any(j => !j.Finished))
        {
            return double.PositiveInfinity;
        }

        if (run.Jobs.Length == 0)
        {
            return Metric == SloMetric.AverageJctRatio ? 1 : 0;
        }

        return Metric switch
        {
            SloMetric.QueuePercentile => ReplayReport.Percentile([.. run.Jobs.Select(j => Math.Max(0, j.Queueing)).Order()], Percentile / 100),
            SloMetric.AverageQueue => run.Jobs.Average(j => Math.Max(0, j.Queueing)),
            _ => run.Jobs.Average(j => j.Jct) / Math.Max(1e-9, run.Jobs.Average(j => j.Duration)),
        };
    }

    public bool IsMet(double measured) => measured <= Limit + 1e-9;

    /// <summary>A measured value in the SLO's own unit (seconds as h/m/s, ratios as ×).</summary>
    public string Format(double measured)
    {
        var c = CultureInfo.InvariantCulture;
        if (double.IsPositiveInfinity(measured))
        {
            return "∞ (jobs cannot run)";
        }

        return Metric == SloMetric.AverageJctRatio ? measured.ToString("0.000", c)
            : measured >= 3600 ? (measured / 3600).ToString("0.00", c) + " h"
            : measured >= 60 ? (measured / 60).ToString("0.0", c) + " min"
            : measured.ToString("0", c) + " s";
    }

    /// <summary>The axis label of plots.</summary>
    public string Label => Metric switch
    {
        SloMetric.QueuePercentile => string.Create(CultureInfo.InvariantCulture, $"p{Percentile} queueing, h"),
        SloMetric.AverageQueue => "average queueing, h",
        _ => "average JCT / lower bound",
    };

    /// <summary>The value on the plot axis (hours for queueing).</summary>
    public double AxisValue(double measured) => Metric == SloMetric.AverageJctRatio ? measured : measured / 3600;

    [GeneratedRegex(@"^(?<what>p(?<p>\d{1,3})-queue|avg-queue|avg-jct-ratio)<=(?<value>.+)$", RegexOptions.IgnoreCase)]
    private static partial Regex SloPattern();

    [GeneratedRegex(@"^(?<n>\d+(\.\d+)?)(?<unit>s|m|min|h|d)?$", RegexOptions.IgnoreCase)]
    private static partial Regex DurationPattern();
}
