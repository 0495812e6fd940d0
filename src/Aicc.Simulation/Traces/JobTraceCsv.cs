using System.Globalization;
using System.Text;
using Aicc.Scheduling.Model;

namespace Aicc.Simulation.Traces;

/// <summary>
/// Our own job-trace format (docs/replay.md): <c>id,tenant,submit_s,duration_s,gpus[,priority][,models][,pods]</c>.
/// <c>gpus</c> is the gang's total device count, or a fraction of one device below 1 (0.25 = a quarter,
/// in thousandths); <c>models</c> lists allowed accelerator models as <c>A100|H100</c>; <c>pods</c> splits
/// the gang into that many equal pods (default: as few pods as the node size allows).
/// </summary>
public static class JobTraceCsv
{
    public const string Header = "id,tenant,submit_s,duration_s,gpus,priority,models,pods";

    internal static JobTrace Read(CsvLines lines, List<string> header)
    {
        var cId = lines.Column(header, "id");
        var cTenant = lines.Column(header, "tenant");
        var cSubmit = lines.Column(header, "submit_s");
        var cDuration = lines.Column(header, "duration_s");
        var cGpus = lines.Column(header, "gpus");
        var cPriority = lines.Column(header, "priority", required: false);
        var cModels = lines.Column(header, "models", required: false);
        var cPods = lines.Column(header, "pods", required: false);
        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        var jobs = new List<TraceJob>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (lines.Next() is { } f)
        {
            var before = lines.Problems.Count;
            var id = lines.Field(f, cId, "id");
            if (id is not null && !ids.Add(id))
            {
                lines.Problem("id", $"'{id}' appears twice");
            }

            var tenant = lines.Field(f, cTenant, "tenant");
            var submit = lines.Number(f, cSubmit, "submit_s", 0, 1e10);
            var duration = lines.Number(f, cDuration, "duration_s", 0, 1e9);
            var gpus = lines.Number(f, cGpus, "gpus", 0.001, 100_000);
            if (gpus is { } g && g > 1 && g != Math.Floor(g))
            {
                lines.Problem("gpus", $"{g.ToString(CultureInfo.InvariantCulture)}: above 1 device a job takes whole devices");
            }
            else if (gpus is { } h && h < 1 && Math.Abs(h * 1000 - Math.Round(h * 1000)) > 1e-9)
            {
                lines.Problem("gpus", $"{h.ToString(CultureInfo.InvariantCulture)}: a fraction is counted in thousandths of a device");
            }

            var priority = lines.Number(f, cPriority, "priority", -1_000_000, 1_000_000, required: false);
            if (priority is { } p && p != Math.Floor(p))
            {
                lines.Problem("priority", $"{p.ToString(CultureInfo.InvariantCulture)} is not a whole number");
            }

            var models = AcceleratorRequest.ParseModels(lines.Field(f, cModels, "models", required: false));
            var pods = lines.Number(f, cPods, "pods", 1, 100_000, required: false);
            if (pods is { } n && gpus is { } total && (n != Math.Floor(n) || (total >= 1 && Math.Abs(total / n - Math.Round(total / n)) > 1e-9) || (total < 1 && n != 1)))
            {
                lines.Problem("pods", $"{n.ToString(CultureInfo.InvariantCulture)} pods must split {total.ToString(CultureInfo.InvariantCulture)} GPUs into equal whole devices (a fraction is one pod)");
            }

            if (lines.Problems.Count == before)
            {
                jobs.Add(new TraceJob
                {
                    Id = id!,
                    Tenant = tenant!,
                    SubmitSeconds = submit!.Value,
                    DurationSeconds = duration!.Value,
                    Gpus = gpus!.Value,
                    Priority = (int)(priority ?? 0),
                    Models = models,
                    Pods = (int)(pods ?? 0),
                });
            }
        }

        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        return new JobTrace(lines.File, "aicc", jobs);
    }

    /// <summary>Writes jobs in our format (generated traces for tests and demand files).</summary>
    public static string Write(IEnumerable<TraceJob> jobs)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var j in jobs)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{j.Id},{j.Tenant},{j.SubmitSeconds:R},{j.DurationSeconds:R},{j.Gpus:R},{j.Priority},{string.Join('|', j.Models)},{(j.Pods > 0 ? j.Pods.ToString(CultureInfo.InvariantCulture) : "")}\n");
        }

        return sb.ToString();
    }
}
