using System.Globalization;

namespace Aicc.Simulation.Traces;

/// <summary>One node of an openb node list: <c>sn,cpu_milli,memory_mib,gpu,model</c>.</summary>
public sealed record OpenbNode(string Name, long CpuMilli, long MemoryMiB, int Gpus, string Model);

/// <summary>
/// One pod of an openb pod list. <see cref="GpuMilli"/> is the share of each device: 1..999 for a pod
/// that shares one device, 1000 for whole devices. <see cref="GpuSpec"/> lists the allowed models
/// (<c>V100M16|V100M32</c>), empty for any.
/// </summary>
public sealed record OpenbPod(string Name, long CpuMilli, long MemoryMiB, int NumGpu, int GpuMilli, string GpuSpec)
{
    /// <summary>Accelerator share the pod takes, milli-devices.</summary>
    public long TotalMilli => NumGpu == 0 ? 0 : NumGpu * (long)GpuMilli;
}

/// <summary>Every problem found in a trace file, each naming the file, line and column.</summary>
public sealed class TraceFormatException(IReadOnlyList<string> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// Readers for the Alibaba GPU cluster trace v2023 ("openb", Weng et al., ATC'23;
/// github.com/alibaba/clusterdata <c>cluster-trace-gpu-v2023</c>). Columns are found by header name, in
/// any order; unknown columns are ignored, which makes the same readers our generic CSV format (see
/// docs/simulator.md). Every problem in a file is reported at once, then reading stops.
/// </summary>
public static class OpenbTrace
{
    private const int MaxReported = 50;

    public static IReadOnlyList<OpenbNode> ReadNodes(string path)
    {
        var table = CsvTable.Read(path);
        var problems = new List<string>();
        var name = table.Column(["sn", "name"], problems);
        var cpu = table.Column(["cpu_milli"], problems);
        var memory = table.Column(["memory_mib"], problems);
        var gpus = table.Column(["gpu", "num_gpu"], problems);
        var model = table.Column(["model"], problems);
        var nodes = new List<OpenbNode>();
        if (problems.Count == 0)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var row in table.Rows)
            {
                var n = row.Text(name, problems);
                var c = row.Long(cpu, problems);
                var m = row.Long(memory, problems);
                var g = (int)Math.Min(row.Long(gpus, problems), 64);
                var md = row.Text(model, problems, allowEmpty: true);
                if (md is "nan" or "NaN")
                {
                    md = "";
                }

                if (g > 0 && md.Length == 0)
                {
                    problems.Add(row.Where(model, $"a node with {g} GPUs needs a model"));
                }

                if (n.Length > 0 && !seen.Add(n))
                {
                    problems.Add(row.Where(name, $"node '{n}' is listed twice"));
                }

                nodes.Add(new OpenbNode(n, c, m, g, md));
            }
        }

        Finish(path, table, nodes.Count, problems, "nodes");
        return nodes;
    }

    /// <summary>Reads a pod list; every model a pod names must be one of <paramref name="knownModels"/>.</summary>
    public static IReadOnlyList<OpenbPod> ReadPods(string path, IReadOnlySet<string> knownModels)
    {
        var table = CsvTable.Read(path);
        var problems = new List<string>();
        var name = table.Column(["name", "job_id"], problems);
        var cpu = table.Column(["cpu_milli"], problems);
        var memory = table.Column(["memory_mib"], problems);
        var numGpu = table.Column(["num_gpu"], problems);
        var gpuMilli = table.Column(["gpu_milli"], problems);
        var spec = table.OptionalColumn("gpu_spec");
        var pods = new List<OpenbPod>();
        if (problems.Count == 0)
        {
            foreach (var row in table.Rows)
            {
                var n = row.Text(name, problems);
                var c = row.Long(cpu, problems);
                var m = row.Long(memory, problems);
                var g = row.Long(numGpu, problems);
                var milli = row.Long(gpuMilli, problems);
                var s = spec < 0 ? "" : row.Text(spec, problems, allowEmpty: true);
                if (s is "nan" or "NaN")
                {
                    s = "";
                }

                if (g > 64)
                {
                    problems.Add(row.Where(numGpu, $"{g} GPUs is more than any node holds (64 at most)"));
                }

                if (g > 0 && (milli < 1 || milli > 1000))
                {
                    problems.Add(row.Where(gpuMilli, $"share per GPU must be 1..1000 milli when num_gpu is {g}, not {milli}"));
                }
                else if (g > 1 && milli < 1000)
                {
                    problems.Add(row.Where(gpuMilli, $"a pod of {g} GPUs must take them whole (1000), not {milli} milli each"));
                }

                var models = s.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                foreach (var model in models)
                {
                    if (!knownModels.Contains(model))
                    {
                        problems.Add(row.Where(spec, $"unknown GPU model '{model}' (the nodes have {string.Join(", ", knownModels.Order(StringComparer.Ordinal))})"));
                    }
                }

                pods.Add(new OpenbPod(n, c, m, (int)Math.Clamp(g, 0, 64), g == 0 ? 0 : (int)Math.Clamp(milli, 0, 1000), string.Join('|', models)));
            }
        }

        Finish(path, table, pods.Count, problems, "pods");
        return pods;
    }

    private static void Finish(string path, CsvTable table, int rows, List<string> problems, string what)
    {
        if (problems.Count == 0 && rows == 0 && table.HasHeader)
        {
            problems.Add($"{path}: line 2: no {what} after the header");
        }

        if (problems.Count > 0)
        {
            var shown = problems.Take(MaxReported).ToList();
            if (problems.Count > MaxReported)
            {
                shown.Add($"{path}: … and {problems.Count - MaxReported} more problems");
            }

            throw new TraceFormatException(shown);
        }
    }

    /// <summary>A comma-separated file with a header line. Fields hold no commas or quotes in these traces.</summary>
    private sealed class CsvTable
    {
        private readonly string _path;
        private readonly string[] _header;

        private CsvTable(string path, string[] header, List<Row> rows)
        {
            _path = path;
            _header = header;
            Rows = rows;
        }

        public List<Row> Rows { get; }

        public bool HasHeader => _header.Length > 0;

        public static CsvTable Read(string path)
        {
            if (!File.Exists(path))
            {
                throw new TraceFormatException([$"{path}: file not found"]);
            }

            var lines = File.ReadAllLines(path);
            if (lines.Length == 0 || string.IsNullOrWhiteSpace(lines[0]))
            {
                throw new TraceFormatException([$"{path}: line 1: empty file (expected a header line)"]);
            }

            var header = lines[0].TrimStart('\uFEFF').Split(',').Select(h => h.Trim()).ToArray();
            var rows = new List<Row>(lines.Length);
            for (var i = 1; i < lines.Length; i++)
            {
                if (lines[i].Length > 0)
                {
                    rows.Add(new Row(path, i + 1, header, lines[i].Split(',')));
                }
            }

            return new CsvTable(path, header, rows);
        }

        public int Column(string[] names, List<string> problems)
        {
            var index = OptionalColumn(names);
            if (index < 0)
            {
                problems.Add($"{_path}: line 1: missing column '{names[0]}' (header: {string.Join(",", _header)})");
            }

            return index;
        }

        public int OptionalColumn(params string[] names)
        {
            foreach (var name in names)
            {
                var index = Array.FindIndex(_header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
                if (index >= 0)
                {
                    return index;
                }
            }

            return -1;
        }
    }

    private sealed class Row(string path, int line, string[] header, string[] fields)
    {
        public string Where(int column, string message) =>
            $"{path}: line {line}, column {column + 1} ({header[Math.Max(column, 0)]}): {message}";

        public string Text(int column, List<string> problems, bool allowEmpty = false)
        {
            if (column >= fields.Length)
            {
                problems.Add(Where(column, $"missing value (the line has {fields.Length} fields, the header {header.Length})"));
                return "";
            }

            var value = fields[column].Trim();
            if (value.Length == 0 && !allowEmpty)
            {
                problems.Add(Where(column, "empty value"));
            }

            return value;
        }

        public long Long(int column, List<string> problems)
        {
            var text = Text(column, problems);
            if (text.Length == 0)
            {
                return 0;
            }

            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                // Some exports write whole numbers as 1000.0.
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) || real != Math.Floor(real) || Math.Abs(real) > 1e15)
                {
                    problems.Add(Where(column, $"'{text}' is not a whole number"));
                    return 0;
                }

                value = (long)real;
            }

            if (value < 0)
            {
                problems.Add(Where(column, $"{value} is negative"));
                return 0;
            }

            return value;
        }
    }
}
