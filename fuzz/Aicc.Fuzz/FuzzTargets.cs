using System.Text;
using System.Text.Json;
using Aicc.Cli;
using Aicc.Commands;
using Aicc.Configuration;
using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Server.Api;
using Aicc.Simulation.Planning;
using Aicc.Simulation.Traces;
using YamlDotNet.Core;

namespace Aicc.Fuzz;

/// <summary>
/// The parsers that read what users and operators write. Each target takes raw bytes and must either
/// accept them or refuse them with the error type its caller turns into a message: the server's
/// <see cref="JsonException"/> (a 400), the CLI's <see cref="CliException"/>, the readers'
/// <see cref="JobTraceException"/>, <see cref="TraceFormatException"/> and <see cref="PlanInputException"/>,
/// the policy loader's problem list (and <see cref="YamlException"/>, which it reports). Anything else
/// escapes, AFL++ records it as a crash, and the input becomes a file under fuzz/regressions.
/// What a parser accepts is then used the way its caller uses it, so "accepted but unusable" crashes too.
/// A target returns whether the input was accepted (the seed corpus must be, to start deep).
/// </summary>
public static class FuzzTargets
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    // Every static here is lazy: SharpFuzz's instrumented code must not run before Fuzzer.Run has
    // mapped afl-fuzz's coverage memory (it would write through a null pointer), and the class is
    // initialised as soon as Program looks a target up.
    //
    // A small cluster the accepted job specs are admitted to: what the server's submit validator and
    // scheduling loop do with them. A new scheduler per input, so that replays do not depend on order.
    private static readonly Lazy<SchedulerSetup> Cluster = new(() => new()
    {
        Catalog = ClusterBuilder.DefaultCatalog(),
        Nodes =
        [
            Node("a100-0", "rack-0", NodeSpec.UniformDevices(8, "A100", domainSize: 4)),
            Node("a100-1", "rack-0", NodeSpec.UniformDevices(8, "A100", domainSize: 4)),
            Node("h100-0", "rack-1", NodeSpec.UniformDevices(8, "H100")),
            Node("cpu-0", "rack-1", []),
        ],
        Queues =
        [
            new QueueSpec
            {
                Name = "fuzz/default",
                Tenant = "fuzz",
                Quotas = new Dictionary<string, ResourceQuota>
                {
                    [ResourceNames.Cpu] = new(512_000),
                    [ResourceNames.Memory] = new(4 * 1024 * 1024),
                    [ResourceNames.Accelerator("A100")] = ResourceQuota.Devices(16),
                    [ResourceNames.Accelerator("H100")] = ResourceQuota.Devices(4, borrowingLimit: 0),
                },
            },
        ],
    });

    private static readonly HashSet<string> OpenbModels = new(StringComparer.Ordinal) { "A10", "G2", "G3", "P100", "T4", "V100M16", "V100M32" };

    private static readonly Lazy<PlanCatalog> DefaultCatalog = new(PlanCatalog.Default);

    // The demand file lives beside a small trace (jobs.csv, as in the seed), so that accepted demands
    // also read and cut a trace. One directory per process: afl-fuzz and the tests may run side by side.
    private static readonly Lazy<string> DemandDirectory = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"aicc-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "jobs.csv"), "id,tenant,submit_s,duration_s,gpus\nj1,a,0,60,1\nj2,b,30,600,8\nj3,a,90000,60,0.5\n");
        return dir;
    });

    public static readonly IReadOnlyDictionary<string, Func<byte[], bool>> All = new Dictionary<string, Func<byte[], bool>>(StringComparer.Ordinal)
    {
        ["jobspec-json"] = JobSpecJson,
        ["jobspec-yaml"] = JobSpecYaml,
        ["job-trace"] = JobTrace,
        ["openb-nodes"] = OpenbNodes,
        ["openb-pods"] = OpenbPods,
        ["policy"] = PolicyJson,
        ["policy-yaml"] = PolicyYaml,
        ["plan-catalog"] = PlanCatalogFile,
        ["plan-demand"] = PlanDemandFile,
    };

    /// <summary>The body of POST /api/v1/workloads, read as the server reads it, then submitted.</summary>
    public static bool JobSpecJson(byte[] input)
    {
        JobSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize<JobSpec>(input, JsonBody.Options);
        }
        catch (JsonException)
        {
            return false;
        }

        return spec is not null && Submit(spec);
    }

    /// <summary>The job file of <c>aicc job submit -f</c>, sent to the server as the CLI sends it.</summary>
    public static bool JobSpecYaml(byte[] input)
    {
        JobSpec spec;
        try
        {
            spec = JobCommand.ParseJobFile("fuzz.yaml", Text(input));
        }
        catch (CliException)
        {
            return false;
        }

        // The CLI posts the file as JSON; the server must be able to read every body the CLI writes.
        var body = JsonSerializer.SerializeToUtf8Bytes(spec, JsonBody.Options);
        return Submit(JsonSerializer.Deserialize<JobSpec>(body, JsonBody.Options) ?? throw new InvalidDataException("the CLI's body reads back as null"));
    }

    /// <summary>Philly, Tiresias and our own trace CSV, recognised by the header.</summary>
    public static bool JobTrace(byte[] input)
    {
        try
        {
            _ = JobTraceReader.Read("fuzz.csv", new StringReader(Text(input)));
            return true;
        }
        catch (JobTraceException)
        {
            return false;
        }
    }

    /// <summary>An openb node list (<c>aicc sim pack --nodes</c>).</summary>
    public static bool OpenbNodes(byte[] input)
    {
        try
        {
            _ = OpenbTrace.ReadNodes(TempFile("nodes.csv", input));
            return true;
        }
        catch (TraceFormatException)
        {
            return false;
        }
    }

    /// <summary>An openb pod list (<c>aicc sim pack --pods</c>), against the models of the openb nodes.</summary>
    public static bool OpenbPods(byte[] input)
    {
        try
        {
            _ = OpenbTrace.ReadPods(TempFile("pods.csv", input), OpenbModels);
            return true;
        }
        catch (TraceFormatException)
        {
            return false;
        }
    }

    /// <summary>A policy file in JSON (<c>--policy FILE.json</c>); an accepted policy must build its plugins.</summary>
    public static bool PolicyJson(byte[] input) => Compose(PolicySpec.Parse(Text(input), out _));

    /// <summary>A policy file in YAML, turned into the JSON tree as <see cref="PolicyFile.Load"/> does.</summary>
    public static bool PolicyYaml(byte[] input)
    {
        string json;
        try
        {
            json = PolicyFile.YamlToJson(Text(input));
        }
        catch (YamlException)
        {
            return false;
        }

        return Compose(PolicySpec.Parse(json, out _));
    }

    /// <summary>A catalog over the embedded default (<c>aicc plan --catalog</c>).</summary>
    public static bool PlanCatalogFile(byte[] input)
    {
        try
        {
            _ = PlanCatalog.Parse("fuzz-catalog.yaml", Text(input), DefaultCatalog.Value);
            return true;
        }
        catch (PlanInputException)
        {
            return false;
        }
    }

    /// <summary>A demand file (<c>aicc plan --demand</c>) against the default catalog.</summary>
    public static bool PlanDemandFile(byte[] input)
    {
        try
        {
            _ = DemandSpec.Parse(Path.Combine(DemandDirectory.Value, "demand.yaml"), Text(input), DefaultCatalog.Value);
            return true;
        }
        catch (PlanInputException)
        {
            return false;
        }
    }

    // What POST /api/v1/workloads does with a body it could read (WorkloadEndpoints.SubmitAsync): the
    // API's checks, the core's validator, the canonical JSON it stores (read back by the scheduling
    // loop), then one scheduling cycle over the accepted workload.
    private static bool Submit(JobSpec spec)
    {
        if (spec.Validate().Count > 0)
        {
            return false;
        }

        var scheduler = new Scheduler(Cluster.Value);
        if (scheduler.Submit(spec.ToCore("wl-fuzz", "fuzz", Epoch)).Count > 0)
        {
            return false;
        }

        var stored = JsonSerializer.Serialize(spec, JsonBody.Options);
        _ = JsonSerializer.Deserialize<JobSpec>(stored, JsonBody.Options) ?? throw new InvalidDataException("the stored spec reads back as null");
        _ = scheduler.RunCycle(Epoch.AddSeconds(1));
        return true;
    }

    // A policy the parser accepts is one the simulator and the server can build.
    private static bool Compose(PolicySpec? policy)
    {
        if (policy is null)
        {
            return false;
        }

        _ = PluginRegistry.CreateQueueSort(policy);
        _ = PluginRegistry.CreateDeviceSelector(policy.DeviceSelection);
        foreach (var score in policy.Scores)
        {
            _ = PluginRegistry.CreateScore(score.Plugin);
        }

        return true;
    }

    private static NodeSpec Node(string name, string rack, IReadOnlyList<DeviceSpec> devices) => new()
    {
        Name = name,
        CpuMilli = 128_000,
        MemoryMiB = 1024 * 1024,
        Devices = devices,
        Rack = rack,
        Block = "block-0",
    };

    // The openb readers take a path (File.ReadAllLines); one file per process, rewritten per input.
    private static string TempFile(string name, byte[] input)
    {
        var path = Path.Combine(DemandDirectory.Value, name);
        File.WriteAllBytes(path, input);
        return path;
    }

    private static string Text(byte[] input) => Encoding.UTF8.GetString(input);
}
