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

    /// <summary>Converts a YAML document to JSON text; plain scalars become numbers or booleans when they read as such.</summary>
    public static string YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        if (stream.Documents.Count == 0)
        {
            return "null";
        }

        return (Convert(stream.Documents[0].RootNode) ?? JsonValue.Create((string?)null))?.ToJsonString() ?? "null";
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", Convert(kv.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(Convert)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => null,
    };

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
