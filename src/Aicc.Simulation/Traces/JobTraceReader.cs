using System.Globalization;

namespace Aicc.Simulation.Traces;

/// <summary>
/// Reads a job trace, recognising the format by its header: Philly (<c>timestamp,duration,num_gpus,…</c>),
/// the Tiresias sample (<c>job_id,num_gpu,submit_time,…</c>) or our own (<c>id,tenant,submit_s,…</c>,
/// see docs/replay.md). Every malformed line is reported with file, line and field, all at once.
/// </summary>
public static class JobTraceReader
{
    public static JobTrace Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new JobTraceException([new JobTraceProblem(path, 0, "file", "does not exist")]);
        }

        using var reader = new StreamReader(path);
        return Read(path, reader);
    }

    public static JobTrace Read(string name, TextReader reader)
    {
        var lines = new CsvLines(name, reader);
        if (!lines.ReadHeader(out var header))
        {
            throw new JobTraceException([new JobTraceProblem(name, 1, "header", "the file is empty")]);
        }

        if (header.Contains("timestamp") && header.Contains("num_gpus"))
        {
            return PhillyTrace.Read(lines, header);
        }

        if (header.Contains("job_id") && header.Contains("num_gpu"))
        {
            return TiresiasTrace.Read(lines, header);
        }

        if (header.Contains("submit_s"))
        {
            return JobTraceCsv.Read(lines, header);
        }

        throw new JobTraceException([new JobTraceProblem(name, 1, "header",
            $"unknown trace format '{string.Join(',', header)}': expected Philly (timestamp,duration,num_gpus,gpu_time,cluster), Tiresias (job_id,num_gpu,submit_time,…,duration) or Aicc (id,tenant,submit_s,duration_s,gpus[,priority,models,pods])")]);
    }
}

/// <summary>Line-by-line CSV without quoting (none of the supported formats quotes), with '#' comments.</summary>
internal sealed class CsvLines(string file, TextReader reader)
{
    public string File { get; } = file;

    public int LineNumber { get; private set; }

    public List<JobTraceProblem> Problems { get; } = [];

    public bool ReadHeader(out List<string> header)
    {
        header = [];
        while (reader.ReadLine() is { } line)
        {
            LineNumber++;
            if (line.Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            header = [.. line.Split(',').Select(h => h.Trim().ToLowerInvariant())];
            return true;
        }

        return false;
    }

    /// <summary>The next data line's fields, or null at the end; blank and comment lines are skipped.</summary>
    public string[]? Next()
    {
        while (reader.ReadLine() is { } line)
        {
            LineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            return line.Split(',');
        }

        return null;
    }

    public void Problem(string field, string message) => Problems.Add(new JobTraceProblem(File, LineNumber, field, message));

    /// <summary>Index of a required column, or a problem naming it.</summary>
    public int Column(List<string> header, string name, bool required = true)
    {
        var i = header.IndexOf(name);
        if (i < 0 && required)
        {
            Problems.Add(new JobTraceProblem(File, 1, name, "required column is missing"));
        }

        return i;
    }

    public string? Field(string[] fields, int column, string name, bool required = true)
    {
        if (column < 0)
        {
            return null;
        }

        if (column >= fields.Length || string.IsNullOrWhiteSpace(fields[column]))
        {
            if (required)
            {
                Problem(name, column >= fields.Length ? $"missing (the line has {fields.Length} fields)" : "is empty");
            }

            return null;
        }

        return fields[column].Trim();
    }

    public double? Number(string[] fields, int column, string name, double min, double max, bool required = true)
    {
        var text = Field(fields, column, name, required);
        if (text is null)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            Problem(name, $"'{text}' is not a number");
            return null;
        }

        if (value < min || value > max)
        {
            Problem(name, $"{text} is out of range {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
            return null;
        }

        return value;
    }

    public JobTraceException Failure() => new(Problems);
}
