namespace Aicc.Scheduling.Model;

/// <summary>What family of accelerator a model belongs to.</summary>
public enum AcceleratorKind
{
    Gpu,
    Npu,
    Fpga,
    Asic,
}

/// <summary>
/// One accelerator model of the catalog (算力池化, standard compute). <see cref="ScuMilli"/> is the
/// model's weight in thousandths of a standard compute unit, so that quotas and prices can be stated
/// once for a heterogeneous pool: an A100 might weigh 1,000 milli-SCU and a T4 250.
/// </summary>
public sealed record AcceleratorType(string Name, AcceleratorKind Kind, long MemoryMiB, long ScuMilli)
{
    /// <summary>Dense index in the catalog; assigned by <see cref="AcceleratorCatalog"/>.</summary>
    public int Id { get; internal set; } = -1;
}

/// <summary>
/// The accelerator models a cluster knows. At most 64 models so that an "allowed models" set is one
/// <see cref="ulong"/> bit mask on the hot path.
/// </summary>
public sealed class AcceleratorCatalog
{
    public const int MaxModels = 64;

    private readonly List<AcceleratorType> _types = [];
    private readonly Dictionary<string, AcceleratorType> _byName = new(StringComparer.OrdinalIgnoreCase);

    public AcceleratorCatalog(IEnumerable<AcceleratorType> types)
    {
        foreach (var type in types)
        {
            Add(type);
        }
    }

    public IReadOnlyList<AcceleratorType> Types => _types;

    public int Count => _types.Count;

    public AcceleratorType this[int id] => _types[id];

    /// <summary>Adds a model; returns the stored entry (the existing one when the name is known).</summary>
    public AcceleratorType Add(AcceleratorType type)
    {
        if (_byName.TryGetValue(type.Name, out var existing))
        {
            return existing;
        }

        if (_types.Count >= MaxModels)
        {
            throw new InvalidOperationException($"The catalog holds at most {MaxModels} accelerator models.");
        }

        var stored = type with { };
        stored.Id = _types.Count;
        _types.Add(stored);
        _byName.Add(stored.Name, stored);
        return stored;
    }

    public bool TryGet(string name, out AcceleratorType type) => _byName.TryGetValue(name, out type!);

    /// <summary>Mask with every model's bit set.</summary>
    public ulong AllModelsMask => _types.Count == MaxModels ? ulong.MaxValue : (1UL << _types.Count) - 1;
}
