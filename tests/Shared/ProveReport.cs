using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aicc.Prove;

/// <summary>
/// The figures of one prove suite (issue 6): one JSON line per run, written to the test output and
/// appended to the file named by <c>AICC_PROVE_OUT</c> when it is set, so <c>.ci/run</c> and
/// <c>scripts/prove.sh</c> can print and tabulate them. <c>AICC_PROVE_PROFILE=full</c> selects the
/// long profile; the quick one is the default so the README's test command stays fast.
/// </summary>
public sealed class ProveReport(string test, int seed)
{
    private static readonly Lock FileLock = new();

    public static bool Full => string.Equals(Environment.GetEnvironmentVariable("AICC_PROVE_PROFILE"), "full", StringComparison.OrdinalIgnoreCase);

    public static string Profile => Full ? "full" : "quick";

    public string Test { get; } = test;

    public int Seed { get; } = seed;

    public JsonObject Figures { get; } = [];

    /// <summary>The seed of a seeded suite: <c>AICC_PROVE_SEED</c> when set (to replay a failure), else <paramref name="fallback"/>.</summary>
    public static int SeedOr(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("AICC_PROVE_SEED"), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var seed) ? seed : fallback;

    /// <summary>The quick figure unless the full profile was asked for.</summary>
    public static int Pick(int quick, int full) => Full ? full : quick;

    public ProveReport Set(string name, JsonNode? value)
    {
        Figures[name] = value;
        return this;
    }

    /// <summary>Writes the line; the caller asserts afterwards, so a failing run still reports its figures.</summary>
    public string Emit(bool pass)
    {
        var line = new JsonObject
        {
            ["test"] = Test,
            ["profile"] = Profile,
            ["seed"] = Seed,
            ["figures"] = Figures.DeepClone(),
            ["pass"] = pass,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        if (Environment.GetEnvironmentVariable("AICC_PROVE_OUT") is { Length: > 0 } path)
        {
            lock (FileLock)
            {
                File.AppendAllText(path, line + "\n");
            }
        }

        return line;
    }
}
