using System.Globalization;
using Aicc.Simulation.Traces;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aicc.Simulation.Planning;

/// <summary>
/// Reads the planner's YAML (or JSON, which YAML reads too) and collects every problem with its file,
/// line and dotted field path (<c>servers[2].price</c>) instead of stopping at the first. Unknown keys
/// are problems too, so that a typo never silently falls back to a default.
/// </summary>
internal sealed class YamlFields(string file)
{
    public string File { get; } = file;

    public List<JobTraceProblem> Problems { get; } = [];

    /// <summary>The top-level mapping, or null (with a problem) when the text is not YAML or not a mapping.</summary>
    public Map? Root(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            Problems.Add(new JobTraceProblem(File, (int)ex.Start.Line, "yaml", ex.InnerException?.Message ?? ex.Message));
            return null;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // YamlDotNet 16.3 throws these instead of YamlException on some malformed input (a tag
            // that is not a URI, certain broken plain scalars); found by F1 (docs/reliability.md).
            Problems.Add(new JobTraceProblem(File, 1, "yaml", $"not valid YAML: {ex.Message}"));
            return null;
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            Problems.Add(new JobTraceProblem(File, 1, "document", "expected a mapping of keys (see docs/planner.md)"));
            return null;
        }

        return new Map(this, root, "");
    }

    /// <summary>Every problem, this file's first in line order, then those of files it names.</summary>
    public PlanInputException Failure() =>
        new([.. Problems.OrderBy(p => p.File == File ? 0 : 1).ThenBy(p => p.File == File ? p.Line : 0)]);

    public void Problem(YamlNode node, string field, string message) =>
        Problems.Add(new JobTraceProblem(File, (int)node.Start.Line, field, message));

    /// <summary>One mapping and its path; every read records the key as known.</summary>
    public sealed class Map(YamlFields owner, YamlMappingNode node, string path)
    {
        private readonly HashSet<string> _read = new(StringComparer.Ordinal);

        public YamlMappingNode Node { get; } = node;

        public string Path { get; } = path;

        public string Field(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

        public IEnumerable<string> Keys => Node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "");

        public YamlNode? Get(string key)
        {
            _read.Add(key);
            foreach (var (k, v) in Node.Children)
            {
                if (k is YamlScalarNode s && s.Value == key)
                {
                    return v;
                }
            }

            return null;
        }

        public void Problem(string key, string message) => owner.Problem(Get(key) ?? Node, Field(key), message);

        public string? String(string key, bool required = false)
        {
            var node = Get(key);
            if (node is null || IsNull(node))
            {
                if (required)
                {
                    owner.Problem(Node, Field(key), "is required");
                }

                return null;
            }

            if (node is not YamlScalarNode s || string.IsNullOrWhiteSpace(s.Value))
            {
                owner.Problem(node, Field(key), "expected a text value");
                return null;
            }

            return s.Value.Trim();
        }

        public double? Number(string key, double min, double max, bool required = false)
        {
            var node = Get(key);
            if (node is null || IsNull(node))
            {
                if (required)
                {
                    owner.Problem(Node, Field(key), "is required");
                }

                return null;
            }

            return owner.Number(node, Field(key), min, max);
        }

        public int? Integer(string key, int min, int max, bool required = false)
        {
            var value = Number(key, min, max, required);
            if (value is { } v && v != Math.Floor(v))
            {
                owner.Problem(Get(key)!, Field(key), $"{v.ToString(CultureInfo.InvariantCulture)} is not a whole number");
                return null;
            }

            return value is null ? null : (int)value.Value;
        }

        public Map? Child(string key, bool required = false)
        {
            var node = Get(key);
            if (node is null || IsNull(node))
            {
                if (required)
                {
                    owner.Problem(Node, Field(key), "is required");
                }

                return null;
            }

            if (node is not YamlMappingNode m)
            {
                owner.Problem(node, Field(key), "expected a mapping of keys");
                return null;
            }

            return new Map(owner, m, Field(key));
        }

        /// <summary>The mappings of a list, each with its indexed path.</summary>
        public List<Map> Maps(string key, bool required = false)
        {
            var node = Get(key);
            if (node is null || IsNull(node))
            {
                if (required)
                {
                    owner.Problem(Node, Field(key), "is required (a list)");
                }

                return [];
            }

            if (node is not YamlSequenceNode seq)
            {
                owner.Problem(node, Field(key), "expected a list");
                return [];
            }

            var result = new List<Map>();
            for (var i = 0; i < seq.Children.Count; i++)
            {
                if (seq.Children[i] is YamlMappingNode m)
                {
                    result.Add(new Map(owner, m, $"{Field(key)}[{i}]"));
                }
                else
                {
                    owner.Problem(seq.Children[i], $"{Field(key)}[{i}]", "expected a mapping of keys");
                }
            }

            return result;
        }

        /// <summary>A list of words, given as a YAML list or one text (<c>H100|H200</c> or <c>H100, H200</c>).</summary>
        public List<string> Words(string key)
        {
            var node = Get(key);
            if (node is null || IsNull(node))
            {
                return [];
            }

            if (node is YamlScalarNode s)
            {
                return [.. (s.Value ?? "").Split(['|', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            }

            if (node is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode))
            {
                return [.. seq.Children.Cast<YamlScalarNode>().Select(c => (c.Value ?? "").Trim()).Where(v => v.Length > 0)];
            }

            owner.Problem(node, Field(key), "expected a list of names");
            return [];
        }

        /// <summary>A mapping of names to numbers (<c>gpu_hour: {H100: 2.4}</c>).</summary>
        public Dictionary<string, double> NumberMap(string key, double min, double max)
        {
            var result = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
            if (Child(key) is not { } map)
            {
                return result;
            }

            foreach (var name in map.Keys.ToList())
            {
                if (map.Number(name, min, max, required: true) is { } v)
                {
                    result[name] = v;
                }
            }

            return result;
        }

        /// <summary>Reports every key of this mapping that no read asked for.</summary>
        public void RejectUnknown()
        {
            foreach (var (k, v) in Node.Children)
            {
                var name = (k as YamlScalarNode)?.Value ?? "";
                if (!_read.Contains(name))
                {
                    owner.Problem(k, Field(name), $"unknown key (known here: {string.Join(", ", _read.Order(StringComparer.Ordinal))})");
                }
            }
        }

        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" };
    }

    private double? Number(YamlNode node, string field, double min, double max)
    {
        if (node is not YamlScalarNode s || !double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            Problem(node, field, $"'{(node as YamlScalarNode)?.Value ?? node.NodeType.ToString()}' is not a number");
            return null;
        }

        if (value < min || value > max)
        {
            Problem(node, field, $"{s.Value} is out of range {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
            return null;
        }

        return value;
    }
}

/// <summary>A demand or catalog file (or a trace it names) is malformed; every problem is listed.</summary>
public sealed class PlanInputException : Exception
{
    public PlanInputException(IReadOnlyList<JobTraceProblem> problems)
        : base(string.Join(Environment.NewLine, problems.Take(50).Select(p => p.ToString()))) => Problems = problems;

    public PlanInputException()
        : this([])
    {
    }

    public PlanInputException(string message)
        : base(message) => Problems = [];

    public PlanInputException(string message, Exception inner)
        : base(message, inner) => Problems = [];

    public IReadOnlyList<JobTraceProblem> Problems { get; }
}
