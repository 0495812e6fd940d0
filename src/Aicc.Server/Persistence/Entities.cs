namespace Aicc.Server.Persistence;

/// <summary>An organisation that uses the center; every other object belongs to one.</summary>
public sealed class TenantRow
{
    public required string Id { get; set; }

    public string DisplayName { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class UserRow
{
    public long Id { get; set; }

    public required string TenantId { get; set; }

    public required string Name { get; set; }

    public required string Role { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An API token. Only the SHA-256 of the secret is kept; the secret is shown once.</summary>
public sealed class TokenRow
{
    public required string Id { get; set; }

    public required string TenantId { get; set; }

    public required string UserName { get; set; }

    public required string Role { get; set; }

    public string Description { get; set; } = "";

    public required byte[] Hash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

public sealed class QueueRow
{
    public required string TenantId { get; set; }

    public required string Name { get; set; }

    public string? Cohort { get; set; }

    public string Strategy { get; set; } = "BestEffortFifo";

    public string QuotasJson { get; set; } = "{}";

    public double FairWeight { get; set; } = 1.0;

    public long Version { get; set; }

    /// <summary>The queue's name inside the scheduling core, unique across tenants.</summary>
    public string CoreName => TenantId + "/" + Name;
}

public sealed class CohortRow
{
    public required string Name { get; set; }

    public string? Parent { get; set; }

    public string QuotasJson { get; set; } = "{}";

    public long Version { get; set; }
}

public sealed class NodeRow
{
    public required string Name { get; set; }

    public long CpuMilli { get; set; }

    public long MemoryMiB { get; set; }

    public string DevicesJson { get; set; } = "[]";

    public string LabelsJson { get; set; } = "{}";

    public bool Cordoned { get; set; }

    public bool Draining { get; set; }

    public string Source { get; set; } = "virtual";

    public long Version { get; set; }
}

public static class WorkloadStates
{
    public const string Pending = "Pending";
    public const string Admitted = "Admitted";
    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Cancelled = "Cancelled";

    public static readonly string[] Active = [Pending, Admitted, Running];

    public static readonly string[] All = [Pending, Admitted, Running, Succeeded, Failed, Cancelled];

    public static bool IsTerminal(string state) => state is Succeeded or Failed or Cancelled;
}

public sealed class WorkloadRow
{
    /// <summary>Insertion order; the cursor of list pagination.</summary>
    public long Seq { get; set; }

    public required string Id { get; set; }

    public required string TenantId { get; set; }

    public required string Queue { get; set; }

    public string Name { get; set; } = "";

    public int Priority { get; set; }

    public required string SpecJson { get; set; }

    public string State { get; set; } = WorkloadStates.Pending;

    public string? Reason { get; set; }

    /// <summary>The current attempt; 0 before the first admission.</summary>
    public int Attempt { get; set; }

    /// <summary>Attempts that ran the program and failed; compared with the spec's maxRetries.</summary>
    public int Failures { get; set; }

    public string? PlacementJson { get; set; }

    public int? ExitCode { get; set; }

    public bool CancelRequested { get; set; }

    public string? IdempotencyKey { get; set; }

    public byte[]? RequestHash { get; set; }

    public DateTimeOffset SubmittedAt { get; set; }

    public DateTimeOffset? AdmittedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public long Version { get; set; }
}

public static class AttemptStates
{
    public const string Starting = "Starting";
    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Cancelled = "Cancelled";
    public const string Preempted = "Preempted";
    public const string TimedOut = "TimedOut";
    public const string Lost = "Lost";

    public static bool IsLive(string state) => state is Starting or Running;
}

public sealed class AttemptRow
{
    public long Id { get; set; }

    public required string WorkloadId { get; set; }

    public int Number { get; set; }

    public string State { get; set; } = AttemptStates.Starting;

    public string PlacementJson { get; set; } = "[]";

    /// <summary>Per pod: pid and kernel start time, for the reconciler.</summary>
    public string ProcessesJson { get; set; } = "[]";

    public int? ExitCode { get; set; }

    public string? Reason { get; set; }

    public DateTimeOffset AdmittedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }
}

public sealed class EventRow
{
    public long Id { get; set; }

    public required string WorkloadId { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Type { get; set; }

    public string Message { get; set; } = "";
}

public sealed class AuditRow
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public string TenantId { get; set; } = "";

    /// <summary>The token id (never the secret) or "anonymous".</summary>
    public string Actor { get; set; } = "";

    public string Method { get; set; } = "";

    public string Path { get; set; } = "";

    public int Status { get; set; }

    public string Outcome { get; set; } = "";
}

/// <summary>What one ended attempt consumed, per accelerator model.</summary>
public sealed class UsageRow
{
    public long Id { get; set; }

    public required string TenantId { get; set; }

    public required string WorkloadId { get; set; }

    public int Attempt { get; set; }

    public string Model { get; set; } = "";

    public long AcceleratorMilliSeconds { get; set; }

    public long ScuMilliSeconds { get; set; }

    public long CpuMilliSeconds { get; set; }

    public DateTimeOffset At { get; set; }
}

/// <summary>Key-value facts about this installation (its id, schema facts).</summary>
public sealed class SettingRow
{
    public required string Key { get; set; }

    public required string Value { get; set; }
}
