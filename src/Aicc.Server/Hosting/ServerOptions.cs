namespace Aicc.Server.Hosting;

/// <summary>Everything an operator can set for <c>aicc server</c> (section <c>Aicc</c> of the configuration).</summary>
public sealed class ServerOptions
{
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>Database, admin token file and job directories live here.</summary>
    public string DataDirectory { get; set; } = Environment.GetEnvironmentVariable("AICC_DATA") is { Length: > 0 } d ? d : "./aicc-data";

    /// <summary>A built-in policy name (aicc, fgd, bestfit, …) or a policy JSON document.</summary>
    public string Policy { get; set; } = "aicc";

    public double CycleIntervalSeconds { get; set; } = 1.0;

    /// <summary>Run the scheduling loop by itself; tests turn it off and drive cycles.</summary>
    public bool AutoSchedule { get; set; } = true;

    /// <summary>Probe <c>nvidia-smi</c> for real GPUs before falling back to virtual devices.</summary>
    public bool DetectNvidia { get; set; } = true;

    public int VirtualNodes { get; set; } = 1;

    public int VirtualDevicesPerNode { get; set; } = 8;

    public string VirtualModel { get; set; } = "A100";

    /// <summary>SCU (milli) of the virtual model when it is not in the built-in catalog.</summary>
    public long VirtualModelScuMilli { get; set; } = 1000;

    public long VirtualNodeCpuMilli { get; set; } = 64_000;

    public long VirtualNodeMemoryMiB { get; set; } = 262_144;

    /// <summary>Requests per second per tenant (token bucket), and its burst.</summary>
    public int RateLimitPerSecond { get; set; } = 200;

    public int RateLimitBurst { get; set; } = 400;

    /// <summary>Requests per second per client address for calls without a valid token.</summary>
    public int AnonymousRateLimitPerSecond { get; set; } = 20;

    public long MaxBodyBytes { get; set; } = 1 << 20;

    /// <summary>Seconds between SIGTERM and SIGKILL when a job is cancelled, preempted or out of time.</summary>
    public double KillGraceSeconds { get; set; } = 10;

    /// <summary>local (child processes on this host), slurm (jobs on a Slurm cluster through slurmrestd) or none (jobs are marked started and left to tests).</summary>
    public string Executor { get; set; } = "local";

    /// <summary>The Slurm cluster, when <see cref="Executor"/> is slurm.</summary>
    public Execution.Slurm.SlurmOptions Slurm { get; set; } = new();

    /// <summary>Log lines as readable text, or as one JSON object per line (timestamp, level, category, event id, message, state).</summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>Print the first admin token on standard output.</summary>
    public bool PrintAdminToken { get; set; } = true;

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            problems.Add("Aicc:DataDirectory: is required");
        }

        if (CycleIntervalSeconds is <= 0 or > 3600)
        {
            problems.Add($"Aicc:CycleIntervalSeconds: {CycleIntervalSeconds}; must be in (0, 3600]");
        }

        if (VirtualNodes is < 0 or > 10_000)
        {
            problems.Add($"Aicc:VirtualNodes: {VirtualNodes}; must be 0..10000");
        }

        if (VirtualDevicesPerNode is < 0 or > 64)
        {
            problems.Add($"Aicc:VirtualDevicesPerNode: {VirtualDevicesPerNode}; must be 0..64");
        }

        if (VirtualNodeCpuMilli < 1000 || VirtualNodeMemoryMiB < 256)
        {
            problems.Add("Aicc:VirtualNodeCpuMilli/VirtualNodeMemoryMiB: a node needs at least 1000 millicores and 256 MiB");
        }

        if (RateLimitPerSecond < 1 || RateLimitBurst < 1 || AnonymousRateLimitPerSecond < 1)
        {
            problems.Add("Aicc:RateLimit*: must be at least 1");
        }

        if (MaxBodyBytes is < 1024 or > 64L << 20)
        {
            problems.Add($"Aicc:MaxBodyBytes: {MaxBodyBytes}; must be 1024..67108864");
        }

        if (KillGraceSeconds is < 0 or > 3600)
        {
            problems.Add($"Aicc:KillGraceSeconds: {KillGraceSeconds}; must be 0..3600");
        }

        if (Executor is not ("local" or "slurm" or "none"))
        {
            problems.Add($"Aicc:Executor: '{Executor}'; choose local, slurm or none");
        }
        else if (Executor == "slurm")
        {
            problems.AddRange(Slurm.Validate());
        }

        if (LogFormat is not ("text" or "json"))
        {
            problems.Add($"Aicc:LogFormat: '{LogFormat}'; choose text or json");
        }

        if (Aicc.Scheduling.Framework.PluginRegistry.Resolve(Policy, out var policyProblems) is null)
        {
            problems.Add($"Aicc:Policy: {string.Join("; ", policyProblems)}");
        }

        return problems;
    }
}
