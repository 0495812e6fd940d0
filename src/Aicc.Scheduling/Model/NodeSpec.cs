namespace Aicc.Scheduling.Model;

/// <summary>One accelerator of a node. <see cref="Domain"/> groups devices joined by NVLink (or the
/// vendor's equivalent); devices in different domains talk over PCIe.</summary>
public sealed record DeviceSpec(int Index, string Model, long MemoryMiB = 0, int Domain = 0);

/// <summary>A taint keeps pods off a node unless they tolerate it (key and value must match).</summary>
public sealed record Taint(string Key, string Value = "");

/// <summary>
/// A server as the operator declares it. CPU is in millicores, memory in MiB. Topology: devices are
/// grouped into NVLink domains (<see cref="DeviceSpec.Domain"/>), nodes into racks, racks into a
/// network block (one InfiniBand/RoCE fabric).
/// </summary>
public sealed record NodeSpec
{
    public required string Name { get; init; }

    public long CpuMilli { get; init; }

    public long MemoryMiB { get; init; }

    public IReadOnlyList<DeviceSpec> Devices { get; init; } = [];

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<Taint> Taints { get; init; } = [];

    public string Rack { get; init; } = "";

    public string Block { get; init; } = "";

    public bool Schedulable { get; init; } = true;

    /// <summary>Convenience for the common server shape: <paramref name="count"/> devices of one model,
    /// NVLink domains of <paramref name="domainSize"/> devices.</summary>
    public static IReadOnlyList<DeviceSpec> UniformDevices(int count, string model, long memoryMiB = 0, int domainSize = 0)
    {
        var devices = new DeviceSpec[count];
        for (var i = 0; i < count; i++)
        {
            devices[i] = new DeviceSpec(i, model, memoryMiB, domainSize > 0 ? i / domainSize : 0);
        }

        return devices;
    }
}
