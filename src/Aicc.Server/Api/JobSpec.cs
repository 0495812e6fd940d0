using System.Text.RegularExpressions;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Validation;

namespace Aicc.Server.Api;

/// <summary>Accelerators of one pod: whole devices (count) or a fraction of one (milli, 1..999).</summary>
public sealed class AcceleratorDto
{
    public int Count { get; set; }

    public int Milli { get; set; }

    public long MemoryMiB { get; set; }

    /// <summary>Allowed models; empty means any.</summary>
    public List<string>? Models { get; set; }

    public long MinScuMilli { get; set; }
}

public sealed class PodSetDto
{
    public string? Name { get; set; }

    public int Count { get; set; } = 1;

    public int? MinCount { get; set; }

    public long CpuMilli { get; set; }

    public long MemoryMiB { get; set; }

    public AcceleratorDto? Accelerator { get; set; }

    public Dictionary<string, string>? NodeSelector { get; set; }
}

/// <summary>
/// What a tenant submits: the program as an argument list (never a shell string), its pod sets and
/// limits. The same shape is the job YAML of <c>aicc job submit -f</c>.
/// </summary>
public sealed partial class JobSpec
{
    public const int MaxArguments = 1024;
    public const int MaxArgumentLength = 8192;
    public const int MaxEnv = 256;
    public const int MaxRetriesLimit = 20;
    public const int MaxTimeLimitSeconds = 30 * 24 * 3600;

    private static readonly HashSet<string> ReservedEnv = new(StringComparer.Ordinal)
    {
        "CUDA_VISIBLE_DEVICES", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "NODE_RANK",
        "MASTER_ADDR", "MASTER_PORT", "PATH", "HOME", "LD_PRELOAD", "LD_LIBRARY_PATH",
    };

    public string? Name { get; set; }

    public string? Queue { get; set; }

    public int Priority { get; set; }

    public bool Preemptible { get; set; } = true;

    public List<string>? Command { get; set; }

    public Dictionary<string, string>? Env { get; set; }

    /// <summary>Wall-clock limit of one attempt; 0 means the server's maximum.</summary>
    public int TimeLimitSeconds { get; set; }

    /// <summary>How many times a failed attempt is run again.</summary>
    public int MaxRetries { get; set; }

    public List<PodSetDto>? PodSets { get; set; }

    public int EffectiveTimeLimitSeconds => TimeLimitSeconds > 0 ? TimeLimitSeconds : MaxTimeLimitSeconds;

    // A YAML list may hold a null entry ("podSets: [~]"); Validate names it, this must not throw first. Found by F1.
    public int PodCount => PodSets?.Sum(p => p?.Count ?? 0) ?? 0;

    /// <summary>The checks the core does not make: the program, its environment and the limits.</summary>
    public List<ValidationProblem> Validate()
    {
        var problems = new List<ValidationProblem>();
        if (Name is not null && !NamePattern().IsMatch(Name))
        {
            problems.Add(new("name", "use 1..63 characters of a-z, 0-9, '-', '_' and '.', starting with a letter or digit"));
        }

        if (string.IsNullOrWhiteSpace(Queue))
        {
            problems.Add(new("queue", "is required: name one of your queues (see `aicc queue list`)"));
        }
        else if (!NamePattern().IsMatch(Queue))
        {
            problems.Add(new("queue", "is not a valid queue name"));
        }

        if (Command is null || Command.Count == 0)
        {
            problems.Add(new("command", "is required: the program and its arguments as a list, e.g. [\"python3\", \"train.py\"]"));
        }
        else
        {
            if (Command.Count > MaxArguments)
            {
                problems.Add(new("command", $"{Command.Count} arguments; at most {MaxArguments}"));
            }

            for (var i = 0; i < Math.Min(Command.Count, MaxArguments); i++)
            {
                var arg = Command[i];
                if (arg is null)
                {
                    problems.Add(new($"command[{i}]", "must be a string"));
                }
                else if (arg.Length > MaxArgumentLength)
                {
                    problems.Add(new($"command[{i}]", $"{arg.Length} characters; at most {MaxArgumentLength}"));
                }
                else if (arg.Contains('\0', StringComparison.Ordinal))
                {
                    problems.Add(new($"command[{i}]", "must not contain NUL characters"));
                }
                else if (i == 0 && arg.Length == 0)
                {
                    problems.Add(new("command[0]", "the program must not be empty"));
                }
            }
        }

        if (Env is not null)
        {
            if (Env.Count > MaxEnv)
            {
                problems.Add(new("env", $"{Env.Count} variables; at most {MaxEnv}"));
            }

            foreach (var (key, value) in Env.Take(MaxEnv))
            {
                if (!EnvNamePattern().IsMatch(key))
                {
                    problems.Add(new($"env.{Clip(key)}", "names are letters, digits and '_', not starting with a digit, at most 128 characters"));
                }
                else if (ReservedEnv.Contains(key) || key.StartsWith("AICC_", StringComparison.Ordinal))
                {
                    problems.Add(new($"env.{key}", "is set by the executor and cannot be overridden"));
                }

                if (value is null || value.Length > MaxArgumentLength || value.Contains('\0', StringComparison.Ordinal))
                {
                    problems.Add(new($"env.{Clip(key)}", $"the value must be a string of at most {MaxArgumentLength} characters without NUL"));
                }
            }
        }

        if (TimeLimitSeconds < 0 || TimeLimitSeconds > MaxTimeLimitSeconds)
        {
            problems.Add(new("timeLimitSeconds", $"{TimeLimitSeconds}; must be 0 (the maximum) .. {MaxTimeLimitSeconds}"));
        }

        if (MaxRetries < 0 || MaxRetries > MaxRetriesLimit)
        {
            problems.Add(new("maxRetries", $"{MaxRetries}; must be 0..{MaxRetriesLimit}"));
        }

        if (Priority is < -1_000_000 or > 1_000_000)
        {
            problems.Add(new("priority", $"{Priority}; must be -1000000..1000000"));
        }

        if (PodSets is null || PodSets.Count == 0)
        {
            problems.Add(new("podSets", "at least one pod set is required, e.g. [{\"count\": 1, \"cpuMilli\": 1000, \"accelerator\": {\"count\": 1}}]"));
        }
        else
        {
            for (var i = 0; i < PodSets.Count; i++)
            {
                var p = PodSets[i];
                if (p is null)
                {
                    problems.Add(new($"podSets[{i}]", "must be an object"));
                    continue;
                }

                if (p.Name is not null && !NamePattern().IsMatch(p.Name))
                {
                    problems.Add(new($"podSets[{i}].name", "use 1..63 characters of a-z, 0-9, '-', '_' and '.'"));
                }

                if (p.Count > 1024)
                {
                    problems.Add(new($"podSets[{i}].count", $"{p.Count}; the local executor runs at most 1024 pods per pod set"));
                }

                if (p.Accelerator?.Models is { } models && models.Any(m => m is null))
                {
                    problems.Add(new($"podSets[{i}].accelerator.models", "must be strings"));
                }

                if (p.NodeSelector is { } selector && selector.Any(kv => kv.Value is null))
                {
                    problems.Add(new($"podSets[{i}].nodeSelector", "values must be strings"));
                }
            }
        }

        return problems;
    }

    /// <summary>The core's view; the queue is the tenant-qualified core name.</summary>
    public WorkloadSpec ToCore(string id, string tenantId, DateTimeOffset submittedAt) => new()
    {
        Id = id,
        Tenant = tenantId,
        Queue = tenantId + "/" + Queue,
        Priority = Priority,
        Preemptible = Preemptible,
        SubmittedAt = submittedAt,
        PodSets = [.. (PodSets ?? []).Select((p, i) => new PodSetSpec
        {
            Name = p.Name ?? (i == 0 ? "main" : $"set{i}"),
            Count = p.Count,
            MinCount = p.MinCount,
            CpuMilli = p.CpuMilli,
            MemoryMiB = p.MemoryMiB,
            NodeSelector = p.NodeSelector ?? [],
            Accelerator = p.Accelerator is null ? AcceleratorRequest.None : new AcceleratorRequest
            {
                Count = p.Accelerator.Count,
                Milli = p.Accelerator.Milli,
                MemoryMiB = p.Accelerator.MemoryMiB,
                AllowedModels = p.Accelerator.Models ?? [],
                MinScuMilli = p.Accelerator.MinScuMilli,
            },
        })],
    };

    /// <summary>Core problems name the queue by its core name; show the tenant's own name instead.</summary>
    public static ValidationProblem Untenant(ValidationProblem problem, string tenantId) =>
        problem with { Message = problem.Message.Replace(tenantId + "/", "", StringComparison.Ordinal) };

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "…" : s;

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    public static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex EnvNamePattern();
}
