using System.Globalization;
using System.Text.Json.Nodes;
using Aicc.Scheduling.Framework;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aicc.Configuration;

/// <summary>
/// Loads a scheduling policy given as a built-in name or a file (YAML or JSON). YAML is turned into the
/// same JSON tree the core parses, so both formats accept exactly the same fields and report the same
/// errors.
/// </summary>
public static class PolicyFile
{
    /// <summary>The policy, or null with every problem named (file and field).</summary>
    public static PolicySpec? Load(string nameOrPath, out IReadOnlyList<string> problems)
    {
        if (PluginRegistry.Policies.TryGetValue(nameOrPath, out var builtIn))
        {
            problems = [];
            return builtIn;
        }

        if (!File.Exists(nameOrPath))
        {
            problems = [$"policy '{nameOrPath}' is neither a built-in policy ({string.Join(", ", PluginRegistry.Policies.Keys)}) nor an existing file"];
            return null;
        }

        string json;
        try
        {
            var text = File.ReadAllText(nameOrPath);
            json = nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? text : YamlToJson(text);
        }
        catch (Exception ex) when (ex is YamlException or IOException or UnauthorizedAccessException)
        {
            problems = [$"{nameOrPath}: {ex.Message}"];
            return null;
        }

        var spec = PolicySpec.Parse(json, out var parseProblems);
        problems = [.. parseProblems.Select(p => $"{nameOrPath}: {p}")];
        return spec;
    }

    /// <summary>Converts a YAML document to JSON text; plain scalars become numbers or booleans when they read as such.
    /// Malformed YAML, a key that is not a scalar, and documents nested or aliased beyond the limits
    /// throw <see cref="YamlException"/>.</summary>
    public static string YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // YamlDotNet 16.3 throws these instead of YamlException on some malformed input: a global
            // tag that is not a URI ("!!+3B"), certain broken plain scalars, stray events. Found by F1.
            throw new YamlException($"not valid YAML: {ex.Message}", ex);
        }

        if (stream.Documents.Count == 0)
        {
            return "null";
        }

        return (new Converter().Convert(stream.Documents[0].RootNode, 0) ?? JsonValue.Create((string?)null))?.ToJsonString() ?? "null";
    }

    /// <summary>
    /// YAML nodes to a JSON tree. Aliases are references, so "&amp;a [*a]" is a cycle and ten doubling
    /// aliases are 2^10 copies; the walk stops at a depth and a node count far above any policy (a
    /// policy has a few dozen nodes) instead of overflowing the stack or filling memory. Found by F1.
    /// </summary>
    private sealed class Converter
    {
        private const int MaxDepth = 32;
        private const int MaxNodes = 10_000;
        private int _nodes;

        public JsonNode? Convert(YamlNode node, int depth)
        {
            if (depth > MaxDepth || ++_nodes > MaxNodes)
            {
                throw new YamlException(node.Start, node.End, depth > MaxDepth
                    ? $"nested more than {MaxDepth} deep (an alias that contains itself?)"
                    : $"more than {MaxNodes} values once aliases are expanded");
            }

            switch (node)
            {
                case YamlMappingNode map:
                    var obj = new JsonObject();
                    foreach (var (key, value) in map.Children)
                    {
                        if (key is not YamlScalarNode name)
                        {
                            throw new YamlException(key.Start, key.End, "a key must be a name, not a list or a mapping");
                        }

                        if (obj.ContainsKey(name.Value ?? ""))
                        {
                            throw new YamlException(key.Start, key.End, $"the key '{name.Value}' appears twice");
                        }

                        obj[name.Value ?? ""] = Convert(value, depth + 1);
                    }

                    return obj;
                case YamlSequenceNode seq:
                    var array = new JsonArray();
                    foreach (var item in seq.Children)
                    {
                        array.Add(Convert(item, depth + 1));
                    }

                    return array;
                case YamlScalarNode scalar:
                    return Scalar(scalar);
                default:
                    return null;
            }
        }
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted)
        {
            return JsonValue.Create(value);
        }

        if (value is "" or "~" or "null")
        {
            return null;
        }

        if (value is "true" or "false")
        {
            return JsonValue.Create(value == "true");
        }

        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(value);
    }
}
