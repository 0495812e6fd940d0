using System.Globalization;
using System.Text.Json;

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
/// docs/simulator.md). A file ending in <c>.json</c> is read as our JSON format instead: an array of
/// objects whose field names are the same column names, with numbers or strings as values. Every problem
/// in a file is reported at once, then reading stops.
/// </summary>
public static class OpenbTrace
{
    private const int MaxReported = 50;

    public static IReadOnlyList<OpenbNode> ReadNodes(string path)
    {
        var table = Table.Read(path, "nodes");
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
        var table = Table.Read(path, "pods");
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

    private static void Finish(string path, Table table, int rows, List<string> problems, string what)
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

    /// <summary>
    /// Named columns and rows of text, read from a comma-separated file with a header line (fields hold no
    /// commas or quotes in these traces) or from a JSON array of objects (the union of the objects' field
    /// names is the header; a field an object lacks is a missing value).
    /// </summary>
    private sealed class Table
    {
        private readonly string _path;
        private readonly string[] _header;

        private Table(string path, string[] header, List<Row> rows, bool isJson)
        {
            _path = path;
            _header = header;
            Rows = rows;
            IsJson = isJson;
        }

        public List<Row> Rows { get; }

        public bool IsJson { get; }

        public bool HasHeader => _header.Length > 0;

        /// <summary>Reads a file of <paramref name="what"/> (for messages: "nodes", "pods").</summary>
        public static Table Read(string path, string what)
        {
            if (!File.Exists(path))
            {
                throw new TraceFormatException([$"{path}: file not found"]);
            }

            return string.Equals(Path.GetExtension(path), ".json", StringComparison.OrdinalIgnoreCase) ? ReadJson(path, what) : ReadCsv(path);
        }

        private static Table ReadCsv(string path)
        {
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
                    rows.Add(new Row(path, $"line {i + 1}", true, header, lines[i].Split(',')));
                }
            }

            return new Table(path, header, rows, isJson: false);
        }

        private static Table ReadJson(string path, string what)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            }
            catch (JsonException ex)
            {
                throw new TraceFormatException([$"{path}: line {(ex.LineNumber ?? 0) + 1}: not valid JSON ({ex.Message.Split(" Path:")[0].TrimEnd('.')})"]);
            }

            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Array)
                {
                    throw new TraceFormatException([$"{path}: expected a JSON array of objects, found {document.RootElement.ValueKind.ToString().ToLowerInvariant()}"]);
                }

                if (document.RootElement.GetArrayLength() == 0)
                {
                    throw new TraceFormatException([$"{path}: no {what} in the array"]);
                }

                var problems = new List<string>();
                var header = new List<string>();
                var index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                var items = new List<Dictionary<int, string?>>();
                var number = 0;
                foreach (var item in document.RootElement.EnumerateArray())
                {
                    number++;
                    var values = new Dictionary<int, string?>();
                    items.Add(values);
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        problems.Add($"{path}: item {number}: expected an object, found {item.ValueKind.ToString().ToLowerInvariant()}");
                        continue;
                    }

                    foreach (var field in item.EnumerateObject())
                    {
                        if (!index.TryGetValue(field.Name, out var column))
                        {
                            column = header.Count;
                            index[field.Name] = column;
                            header.Add(field.Name);
                        }

                        values[column] = field.Value.ValueKind switch
                        {
                            JsonValueKind.String => field.Value.GetString(),
                            JsonValueKind.Number => field.Value.GetRawText(),
                            JsonValueKind.Null => null,
                            _ => Invalid(problems, $"{path}: item {number} ({field.Name}): expected a number or a string, found {field.Value.ValueKind.ToString().ToLowerInvariant()}"),
                        };
                    }
                }

                if (problems.Count > 0)
                {
                    throw new TraceFormatException(problems);
                }

                var names = header.ToArray();
                var rows = items.Select((values, i) => new Row(path, $"item {i + 1}", false, names, [.. Enumerable.Range(0, names.Length).Select(c => values.GetValueOrDefault(c))])).ToList();
                return new Table(path, names, rows, isJson: true);
            }
        }

        private static string? Invalid(List<string> problems, string problem)
        {
            problems.Add(problem);
            return "";
        }

        public int Column(string[] names, List<string> problems)
        {
            var index = OptionalColumn(names);
            if (index < 0)
            {
                problems.Add(IsJson
                    ? $"{_path}: no item has the field '{names[0]}' (fields: {string.Join(",", _header)})"
                    : $"{_path}: line 1: missing column '{names[0]}' (header: {string.Join(",", _header)})");
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

    /// <summary>One line of a CSV file or one object of a JSON array; <c>null</c> is a value the row lacks.</summary>
    private sealed class Row(string path, string place, bool numberedColumns, string[] header, string?[] fields)
    {
        public string Where(int column, string message) => numberedColumns
            ? $"{path}: {place}, column {column + 1} ({header[Math.Max(column, 0)]}): {message}"
            : $"{path}: {place} ({header[Math.Max(column, 0)]}): {message}";

        public string Text(int column, List<string> problems, bool allowEmpty = false)
        {
            if (column >= fields.Length)
            {
                problems.Add(Where(column, $"missing value (the line has {fields.Length} fields, the header {header.Length})"));
                return "";
            }

            if (fields[column] is null)
            {
                if (!allowEmpty)
                {
                    problems.Add(Where(column, "missing value"));
                }

                return "";
            }

            var value = fields[column]!.Trim();
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
