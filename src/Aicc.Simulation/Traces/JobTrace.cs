namespace Aicc.Simulation.Traces;

/// <summary>
/// One job of a trace, as the replay needs it: when it arrives (seconds from the trace's start), how
/// long it runs once started (rigid: the same on any placement), and what it asks for. <see cref="Gpus"/>
/// is the total device count of the gang, or a fraction below 1 (a share of one device).
/// </summary>
public sealed record TraceJob
{
    public required string Id { get; init; }

    /// <summary>The submitter: a Philly virtual cluster, or the tenant of our own format.</summary>
    public required string Tenant { get; init; }

    public required double SubmitSeconds { get; init; }

    public required double DurationSeconds { get; init; }

    public required double Gpus { get; init; }

    public int Priority { get; init; }

    /// <summary>Accelerator models the job may use (empty = any).</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>Pods of the gang when the trace says so; 0 = derive from the node size.</summary>
    public int Pods { get; init; }

    public double GpuSeconds => Gpus * DurationSeconds;
}

/// <summary>A trace: its jobs sorted by arrival (ties by input order), and where it came from.</summary>
public sealed class JobTrace
{
    public JobTrace(string source, string format, IEnumerable<TraceJob> jobs)
    {
        Source = source;
        Format = format;
        Jobs = [.. jobs.Select((j, i) => (j, i)).OrderBy(x => x.j.SubmitSeconds).ThenBy(x => x.i).Select(x => x.j)];
    }

    public string Source { get; }

    /// <summary><c>philly</c>, <c>tiresias</c> or <c>aicc</c>.</summary>
    public string Format { get; }

    public IReadOnlyList<TraceJob> Jobs { get; }

    /// <summary>Seconds from the first arrival to the last.</summary>
    public double SpanSeconds => Jobs.Count == 0 ? 0 : Jobs[^1].SubmitSeconds - Jobs[0].SubmitSeconds;

    public double TotalGpuSeconds => Jobs.Sum(j => j.GpuSeconds);

    /// <summary>The first <paramref name="count"/> arrivals (a reduced replay).</summary>
    public JobTrace Take(int count) => new(Source, Format, Jobs.Take(count));

    /// <summary>Only the jobs of one tenant (its private-cluster baseline).</summary>
    public JobTrace OfTenant(string tenant) => new(Source, Format, Jobs.Where(j => j.Tenant == tenant));
}

/// <summary>One problem in an input file, by file, line (1-based) and field.</summary>
public sealed record JobTraceProblem(string File, int Line, string Field, string Message)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}: {Field}: {Message}" : $"{File}: {Field}: {Message}";
}

/// <summary>An input file is malformed; <see cref="Problems"/> names every problem found (at most 50 shown).</summary>
public sealed class JobTraceException : Exception
{
    public JobTraceException(IReadOnlyList<JobTraceProblem> problems)
        : base(Describe(problems)) => Problems = problems;

    public JobTraceException()
        : this([])
    {
    }

    public JobTraceException(string message)
        : base(message) => Problems = [];

    public JobTraceException(string message, Exception inner)
        : base(message, inner) => Problems = [];

    public IReadOnlyList<JobTraceProblem> Problems { get; }

    private static string Describe(IReadOnlyList<JobTraceProblem> problems)
    {
        var shown = problems.Take(50).Select(p => p.ToString());
        var more = problems.Count > 50 ? [$"… and {problems.Count - 50} more"] : Array.Empty<string>();
        return string.Join(Environment.NewLine, shown.Concat(more));
    }
}
