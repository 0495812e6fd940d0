namespace Aicc.Scheduling.Quotas;

/// <summary>
/// Quota of one resource at one queue or cohort (配额策略). Values are in the resource's base unit:
/// millicores, MiB, milli-devices (16 GPUs = 16,000) or milli-SCU.
/// <see cref="BorrowingLimit"/>: how much beyond its own (subtree) nominal quota this node may take from
/// its parent; null = unlimited. <see cref="LendingLimit"/>: how much of its quota others may use; null =
/// all of it. Quota that is not lendable is guaranteed to this node.
/// </summary>
public sealed record ResourceQuota(long Nominal, long? BorrowingLimit = null, long? LendingLimit = null)
{
    public static ResourceQuota Devices(int nominal, int? borrowingLimit = null, int? lendingLimit = null) =>
        new(nominal * 1000L, borrowingLimit * 1000L, lendingLimit * 1000L);
}

/// <summary>Order inside one queue: StrictFIFO never lets a later workload pass a head that waits;
/// BestEffortFIFO tries the next one when the head does not fit.</summary>
public enum QueueingStrategy
{
    BestEffortFifo,
    StrictFifo,
}

/// <summary>A tenant's queue. Quota keys are the names of <see cref="ResourceNames"/>.</summary>
public sealed record QueueSpec
{
    public required string Name { get; init; }

    public string Tenant { get; init; } = "";

    public string? Cohort { get; init; }

    public QueueingStrategy Strategy { get; init; } = QueueingStrategy.BestEffortFifo;

    public IReadOnlyDictionary<string, ResourceQuota> Quotas { get; init; } = new Dictionary<string, ResourceQuota>();

    /// <summary>Relative weight in fair sharing: a queue with weight 2 is entitled to twice the share.</summary>
    public double FairWeight { get; init; } = 1.0;
}

/// <summary>A group of queues (and cohorts) that lend each other idle quota (共享超分). Cohorts form a
/// tree through <see cref="Parent"/>; a cohort may own quota of its own.</summary>
public sealed record CohortSpec
{
    public required string Name { get; init; }

    public string? Parent { get; init; }

    public IReadOnlyDictionary<string, ResourceQuota> Quotas { get; init; } = new Dictionary<string, ResourceQuota>();
}

/// <summary>
/// Quota resources and their dense indices: cpu, memory, scu, then one per accelerator model
/// ("accelerator/A100").
/// </summary>
public static class ResourceNames
{
    public const string Cpu = "cpu";
    public const string Memory = "memory";
    public const string Scu = "scu";
    public const string AcceleratorPrefix = "accelerator/";

    public const int CpuIndex = 0;
    public const int MemoryIndex = 1;
    public const int ScuIndex = 2;
    public const int FirstAccelerator = 3;
    public const int Count = FirstAccelerator + Model.AcceleratorCatalog.MaxModels;

    public static int AcceleratorIndex(int modelId) => FirstAccelerator + modelId;

    public static string Accelerator(string model) => AcceleratorPrefix + model;

    /// <summary>Resolves a quota key to its index, or -1 when the key names nothing known.</summary>
    public static int IndexOf(string key, Model.AcceleratorCatalog catalog)
    {
        switch (key)
        {
            case Cpu: return CpuIndex;
            case Memory: return MemoryIndex;
            case Scu: return ScuIndex;
        }

        if (key.StartsWith(AcceleratorPrefix, StringComparison.Ordinal) &&
            catalog.TryGet(key[AcceleratorPrefix.Length..], out var type))
        {
            return AcceleratorIndex(type.Id);
        }

        return -1;
    }

    public static string NameOf(int index, Model.AcceleratorCatalog catalog) => index switch
    {
        CpuIndex => Cpu,
        MemoryIndex => Memory,
        ScuIndex => Scu,
        _ => Accelerator(catalog[index - FirstAccelerator].Name),
    };
}
