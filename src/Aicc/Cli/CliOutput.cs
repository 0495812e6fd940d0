using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Aicc.Cli;

/// <summary>Tables for people, JSON for scripts (<c>--output json</c>), and one way to report errors.</summary>
internal static class CliOutput
{
    public static readonly Option<string> Format = new("--output", "-o")
    {
        Description = "table (default) or json.",
        DefaultValueFactory = _ => "table",
        Recursive = true,
    };

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static bool Json(ParseResult parse) => string.Equals(parse.GetValue(Format), "json", StringComparison.OrdinalIgnoreCase);

    public static void WriteJson(JsonNode node) => Console.WriteLine(node.ToJsonString(Indented));

    /// <summary>The answer as JSON with <c>-o json</c>, otherwise as one line of text for a person.</summary>
    public static void Write(ParseResult parse, JsonNode node, Func<string> text)
    {
        if (Json(parse))
        {
            WriteJson(node);
        }
        else
        {
            Console.WriteLine(text());
        }
    }

    public static void Table(string[] columns, IEnumerable<string[]> rows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var c in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(c)));
        }

        foreach (var row in rows)
        {
            table.AddRow([.. row.Select(cell => new Markup(Markup.Escape(cell)))]);
        }

        AnsiConsole.Write(table);
    }

    public static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v => v.ToString(),
        _ => node.ToJsonString(),
    };

    /// <summary>A timestamp in local time, to the second.</summary>
    public static string Time(JsonNode? node) =>
        node is not null && DateTimeOffset.TryParse(node.ToString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var t)
            ? t.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)
            : "";

    /// <summary>Runs a client verb: CLI errors become a message on stderr and their exit code, never a stack trace.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (CliException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return e.ExitCode;
        }
        catch (TaskCanceledException)
        {
            await Console.Error.WriteLineAsync("error: the server did not answer in time");
            return ExitCodes.Unavailable;
        }
    }
}
