using System.Globalization;

namespace Aicc.Simulation.Traces;

/// <summary>
/// The Philly job list as published with Pollux (Qiao et al., OSDI'21; petuum/adaptdl,
/// <c>simulator/traces/philly.csv</c>), derived from Microsoft's Philly traces (Jeon et al., ATC'19,
/// CC BY 4.0): <c>timestamp,duration,num_gpus,gpu_time,cluster</c>. The timestamp is the submission
/// time (UTC, second resolution); arrivals become seconds after the earliest; the virtual cluster
/// (<c>cluster</c>) is the tenant. Rows are not in time order in the file.
/// </summary>
public static class PhillyTrace
{
    private const double MaxDurationSeconds = 365 * 86_400.0;

    public static JobTrace Read(string path) => JobTraceReader.Read(path);

    internal static JobTrace Read(CsvLines lines, List<string> header)
    {
        var cTime = lines.Column(header, "timestamp");
        var cDuration = lines.Column(header, "duration");
        var cGpus = lines.Column(header, "num_gpus");
        var cCluster = lines.Column(header, "cluster");
        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        var raw = new List<(DateTime Time, double Duration, int Gpus, string Tenant)>();
        while (lines.Next() is { } f)
        {
            var before = lines.Problems.Count;
            var timeText = lines.Field(f, cTime, "timestamp");
            var time = default(DateTime);
            if (timeText is not null && !DateTime.TryParseExact(timeText, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time))
            {
                lines.Problem("timestamp", $"'{timeText}' is not a time like 2017-10-09 07:01:55");
            }

            var duration = lines.Number(f, cDuration, "duration", 0, MaxDurationSeconds);
            var gpus = lines.Number(f, cGpus, "num_gpus", 1, 100_000);
            if (gpus is { } g && g != Math.Floor(g))
            {
                lines.Problem("num_gpus", $"{g} is not a whole number of GPUs");
            }

            var tenant = lines.Field(f, cCluster, "cluster");
            if (lines.Problems.Count == before)
            {
                raw.Add((time, duration!.Value, (int)gpus!.Value, tenant!));
            }
        }

        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        var start = raw.Count == 0 ? default : raw.Min(r => r.Time);
        return new JobTrace(lines.File, "philly", raw.Select((r, i) => new TraceJob
        {
            Id = $"philly-{i + 1}",
            Tenant = r.Tenant,
            SubmitSeconds = (r.Time - start).TotalSeconds,
            DurationSeconds = r.Duration,
            Gpus = r.Gpus,
        }));
    }
}
