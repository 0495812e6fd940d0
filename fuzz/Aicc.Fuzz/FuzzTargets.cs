using System.Text;
using System.Text.Json;
using Aicc.Cli;
using Aicc.Commands;
using Aicc.Scheduling.Framework;
using Aicc.Server.Api;
using Aicc.Simulation.Planning;
using Aicc.Simulation.Traces;

namespace Aicc.Fuzz;

/// <summary>
/// The parsers that read what users and operators write: each target takes raw bytes and must either
/// accept them or refuse them with the parser's own error type. Any other exception is a bug (AFL++
/// sees it as a crash), and every input that found one becomes a file under fuzz/regressions.
/// </summary>
public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["jobspec-json"] = JobSpecJson,
        ["jobspec-yaml"] = JobSpecYaml,
        ["job-trace"] = JobTrace,
        ["policy"] = PolicyFile,
        ["plan-catalog"] = PlanCatalogFile,
        ["plan-demand"] = PlanDemandFile,
    };

    /// <summary>The body of POST /api/v1/workloads, read as the server reads it, then validated.</summary>
    public static void JobSpecJson(byte[] input)
    {
        JobSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize<JobSpec>(input, JsonBody.Options);
        }
        catch (JsonException)
        {
            return;
        }

        Check(spec);
    }

    /// <summary>The job file of <c>aicc job submit -f</c>.</summary>
    public static void JobSpecYaml(byte[] input)
    {
        JobSpec spec;
        try
        {
            spec = JobCommand.ParseJobFile("fuzz.yaml", Text(input));
        }
        catch (CliException)
        {
            return;
        }

        Check(spec);
    }

    /// <summary>Philly, Tiresias and our own trace CSV, recognised by the header.</summary>
    public static void JobTrace(byte[] input)
    {
        try
        {
            _ = JobTraceReader.Read("fuzz.csv", new StringReader(Text(input)));
        }
        catch (JobTraceException)
        {
        }
    }

    /// <summary>A placement policy document (the JSON tree of <c>--policy FILE</c>).</summary>
    public static void PolicyFile(byte[] input) => _ = PolicySpec.Parse(Text(input), out _);

    public static void PlanCatalogFile(byte[] input)
    {
        try
        {
            _ = PlanCatalog.Parse("fuzz-catalog.yaml", Text(input), null);
        }
        catch (PlanInputException)
        {
        }
    }

    public static void PlanDemandFile(byte[] input)
    {
        try
        {
            _ = DemandSpec.Parse(Path.Combine(Path.GetTempPath(), "aicc-fuzz-demand.yaml"), Text(input), PlanCatalog.Default());
        }
        catch (PlanInputException)
        {
        }
    }

    private static void Check(JobSpec? spec)
    {
        if (spec is not null && spec.Validate().Count == 0)
        {
            _ = spec.ToCore("wl-fuzz", "fuzz", DateTimeOffset.UnixEpoch);
        }
    }

    private static string Text(byte[] input) => Encoding.UTF8.GetString(input);
}
