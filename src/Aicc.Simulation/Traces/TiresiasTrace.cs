namespace Aicc.Simulation.Traces;

/// <summary>
/// The sample trace of the Tiresias simulator (Gu et al., NSDI'19; SymbioticLab/Tiresias,
/// <c>simulator/60_job.csv</c>): <c>job_id,num_gpu,submit_time,iterations,model_name,duration,interval</c>.
/// Submit time and duration are seconds; the model name (the DNN trained) becomes the tenant so that
/// per-tenant figures have something to group by.
/// </summary>
public static class TiresiasTrace
{
    public static JobTrace Read(string path) => JobTraceReader.Read(path);

    internal static JobTrace Read(CsvLines lines, List<string> header)
    {
        var cId = lines.Column(header, "job_id");
        var cGpus = lines.Column(header, "num_gpu");
        var cSubmit = lines.Column(header, "submit_time");
        var cDuration = lines.Column(header, "duration");
        var cModel = lines.Column(header, "model_name", required: false);
        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        var jobs = new List<TraceJob>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (lines.Next() is { } f)
        {
            var before = lines.Problems.Count;
            var id = lines.Field(f, cId, "job_id");
            if (id is not null && !ids.Add(id))
            {
                lines.Problem("job_id", $"'{id}' appears twice");
            }

            var gpus = lines.Number(f, cGpus, "num_gpu", 1, 100_000);
            var submit = lines.Number(f, cSubmit, "submit_time", 0, 1e10);
            var duration = lines.Number(f, cDuration, "duration", 0, 1e9);
            var model = lines.Field(f, cModel, "model_name", required: false) ?? "default";
            if (lines.Problems.Count == before)
            {
                jobs.Add(new TraceJob
                {
                    Id = $"tiresias-{id}",
                    Tenant = model,
                    SubmitSeconds = submit!.Value,
                    DurationSeconds = duration!.Value,
                    Gpus = Math.Floor(gpus!.Value),
                });
            }
        }

        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        return new JobTrace(lines.File, "tiresias", jobs);
    }
}
