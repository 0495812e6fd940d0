namespace Aicc.Scheduling.Model;

/// <summary>
/// What a pod asks of accelerators: nothing, <see cref="Count"/> whole devices, or a fraction of one
/// device in thousandths (<see cref="Milli"/> 1..999, 细粒度切分), optionally with device memory.
/// <see cref="AllowedModels"/> restricts the models (empty = any); <see cref="MinScuMilli"/> asks for a
/// device weighing at least that many milli-SCU.
/// </summary>
public sealed record AcceleratorRequest
{
    public static readonly AcceleratorRequest None = new();

    /// <summary>Whole devices per pod (0 with a fraction or with no accelerator).</summary>
    public int Count { get; init; }

    /// <summary>Share of one device in 1/1000 units, 1..999; 0 when whole devices are asked.</summary>
    public int Milli { get; init; }

    /// <summary>Device memory a fractional pod needs on its device, MiB (0 = not constrained).</summary>
    public long MemoryMiB { get; init; }

    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    public long MinScuMilli { get; init; }

    public bool IsNone => Count == 0 && Milli == 0;

    public bool IsFraction => Count == 0 && Milli > 0;

    /// <summary>Device share this pod occupies in milli-devices: Count×1000 or Milli.</summary>
    public long TotalMilli => IsFraction ? Milli : Count * 1000L;

    public static AcceleratorRequest Whole(int count, params string[] models) => new() { Count = count, AllowedModels = models };

    public static AcceleratorRequest Fraction(int milli, params string[] models) => new() { Milli = milli, AllowedModels = models };

    /// <summary>Parses the trace notation "V100M16|V100M32" into a model list.</summary>
    public static IReadOnlyList<string> ParseModels(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>
/// <see cref="Count"/> identical pods. <see cref="MinCount"/> below <see cref="Count"/> makes the pod set
/// elastic: the workload may start with as few as <see cref="MinCount"/> pods.
/// </summary>
public sealed record PodSetSpec
{
    public string Name { get; init; } = "main";

    public int Count { get; init; } = 1;

    public int? MinCount { get; init; }

    public long CpuMilli { get; init; }

    public long MemoryMiB { get; init; }

    public AcceleratorRequest Accelerator { get; init; } = AcceleratorRequest.None;

    public IReadOnlyDictionary<string, string> NodeSelector { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<Taint> Tolerations { get; init; } = [];

    public int RequiredCount => MinCount ?? Count;
}

/// <summary>
/// What a tenant submits: a gang of pod sets placed all-or-nothing (down to each pod set's
/// <see cref="PodSetSpec.MinCount"/>), charged to <see cref="Queue"/>.
/// </summary>
public sealed record WorkloadSpec
{
    public required string Id { get; init; }

    public string Tenant { get; init; } = "";

    public required string Queue { get; init; }

    public int Priority { get; init; }

    public bool Preemptible { get; init; } = true;

    public IReadOnlyList<PodSetSpec> PodSets { get; init; } = [];

    /// <summary>When the workload entered the queue; FIFO order and fairness are based on it.</summary>
    public DateTimeOffset SubmittedAt { get; init; }

    /// <summary>
    /// Expected run time in seconds, when known (a user's estimate, or one predicted from the submitter's
    /// history). Optional: only duration-aware policies read it — shortest-job-first sorts by it and EASY
    /// backfill uses it to compute the head's reservation. Null = unknown (sorted last, never backfilled
    /// ahead of a reservation).
    /// </summary>
    public double? EstimatedDurationSeconds { get; init; }

    public int PodCount => PodSets.Sum(p => p.Count);
}
