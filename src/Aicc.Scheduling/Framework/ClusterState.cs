using Aicc.Scheduling.Model;

namespace Aicc.Scheduling.Framework;

/// <summary>
/// Capacity and allocation of every node and device, laid out as parallel arrays so that a filter or
/// score pass over 10,000 nodes touches a few contiguous arrays and allocates nothing. Every change to a
/// node bumps its version and appends it to a change log, which lets per-shape score caches refresh only
/// the nodes that changed.
/// </summary>
public sealed class ClusterState
{
    private const int ChangeLogSize = 4096;

    private readonly NodeSpec[] _specs;
    private readonly Dictionary<string, int> _nodeIndex = new(StringComparer.Ordinal);
    private readonly int[] _changeLog = new int[ChangeLogSize];

    internal readonly long[] CpuCapacity;
    internal readonly long[] MemoryCapacity;
    internal readonly long[] CpuUsed;
    internal readonly long[] MemoryUsed;
    internal readonly bool[] Schedulable;
    internal readonly ulong[] NodeModels;
    internal readonly int[] DeviceStart;
    internal readonly int[] DeviceCount;
    internal readonly int[] RackOf;
    internal readonly int[] BlockOf;

    /// <summary>Devices with no share taken, per node.</summary>
    internal readonly int[] FreeWhole;

    /// <summary>The largest free share on one device of the node, milli.</summary>
    internal readonly int[] MaxFreeMilli;

    /// <summary>Sum of free shares over the node's devices, milli.</summary>
    internal readonly int[] FreeMilliTotal;

    internal readonly int[] Version;

    private readonly int[] _devicesOfModel = new int[AcceleratorCatalog.MaxModels];
    private readonly long[] _allocatedOfModel = new long[AcceleratorCatalog.MaxModels];

    internal readonly int[] DeviceNode;
    internal readonly int[] DeviceModel;
    internal readonly int[] DeviceDomain;
    internal readonly long[] DeviceMemory;
    internal readonly int[] DeviceUsedMilli;
    internal readonly long[] DeviceMemoryUsed;

    /// <summary>Handle of the pod that holds the device whole, or -1.</summary>
    internal readonly int[] DeviceWholeOwner;

    /// <summary>Number of fractional pods sharing the device.</summary>
    internal readonly int[] DeviceSharers;

    internal readonly string[] RackNames;
    internal readonly int[][] NodesByRack;

    public ClusterState(AcceleratorCatalog catalog, IReadOnlyList<NodeSpec> nodes)
    {
        Catalog = catalog;
        _specs = [.. nodes];
        var n = _specs.Length;
        CpuCapacity = new long[n];
        MemoryCapacity = new long[n];
        CpuUsed = new long[n];
        MemoryUsed = new long[n];
        Schedulable = new bool[n];
        NodeModels = new ulong[n];
        DeviceStart = new int[n];
        DeviceCount = new int[n];
        RackOf = new int[n];
        BlockOf = new int[n];
        FreeWhole = new int[n];
        MaxFreeMilli = new int[n];
        FreeMilliTotal = new int[n];
        Version = new int[n];

        var totalDevices = _specs.Sum(s => s.Devices.Count);
        DeviceNode = new int[totalDevices];
        DeviceModel = new int[totalDevices];
        DeviceDomain = new int[totalDevices];
        DeviceMemory = new long[totalDevices];
        DeviceUsedMilli = new int[totalDevices];
        DeviceMemoryUsed = new long[totalDevices];
        DeviceWholeOwner = new int[totalDevices];
        DeviceSharers = new int[totalDevices];
        Array.Fill(DeviceWholeOwner, -1);

        var racks = new Dictionary<string, int>(StringComparer.Ordinal);
        var blocks = new Dictionary<string, int>(StringComparer.Ordinal);
        var d = 0;
        for (var i = 0; i < n; i++)
        {
            var spec = _specs[i];
            if (!_nodeIndex.TryAdd(spec.Name, i))
            {
                throw new ArgumentException($"node '{spec.Name}' is declared twice", nameof(nodes));
            }

            CpuCapacity[i] = spec.CpuMilli;
            MemoryCapacity[i] = spec.MemoryMiB;
            Schedulable[i] = spec.Schedulable;
            DeviceStart[i] = d;
            DeviceCount[i] = spec.Devices.Count;
            var rackKey = spec.Block + "/" + spec.Rack;
            if (!racks.TryGetValue(rackKey, out var rack))
            {
                rack = racks.Count;
                racks.Add(rackKey, rack);
            }

            if (!blocks.TryGetValue(spec.Block, out var block))
            {
                block = blocks.Count;
                blocks.Add(spec.Block, block);
            }

            RackOf[i] = rack;
            BlockOf[i] = block;
            foreach (var device in spec.Devices)
            {
                var model = catalog.TryGet(device.Model, out var type)
                    ? type.Id
                    : throw new ArgumentException($"node '{spec.Name}' has a device of unknown model '{device.Model}'", nameof(nodes));
                if (device.Domain is < 0 or > 63)
                {
                    throw new ArgumentException($"node '{spec.Name}' device {device.Index}: NVLink domain {device.Domain} must be 0..63", nameof(nodes));
                }

                DeviceNode[d] = i;
                DeviceModel[d] = model;
                _devicesOfModel[model]++;
                DeviceDomain[d] = device.Domain;
                DeviceMemory[d] = device.MemoryMiB > 0 ? device.MemoryMiB : type.MemoryMiB;
                NodeModels[i] |= 1UL << model;
                d++;
            }

            RefreshAggregates(i);
            Version[i] = 0;
        }

        RackNames = new string[racks.Count];
        foreach (var (key, id) in racks)
        {
            RackNames[id] = key;
        }

        var byRack = new List<int>[racks.Count];
        for (var r = 0; r < byRack.Length; r++)
        {
            byRack[r] = [];
        }

        for (var i = 0; i < n; i++)
        {
            byRack[RackOf[i]].Add(i);
        }

        NodesByRack = [.. byRack.Select(l => l.ToArray())];
        BlockCount = blocks.Count;
        TotalDevices = totalDevices;
    }

    public AcceleratorCatalog Catalog { get; }

    public int NodeCount => _specs.Length;

    public int TotalDevices { get; }

    public int RackCount => RackNames.Length;

    public int BlockCount { get; }

    /// <summary>Increases with every change to any node; with <see cref="Version"/> it drives cache refresh.</summary>
    public long ChangeSequence { get; private set; }

    public NodeSpec NodeSpecAt(int node) => _specs[node];

    public string NodeName(int node) => _specs[node].Name;

    public bool TryGetNode(string name, out int node) => _nodeIndex.TryGetValue(name, out node);

    public bool IsSchedulable(int node) => Schedulable[node];

    public long FreeCpu(int node) => CpuCapacity[node] - CpuUsed[node];

    public long FreeMemory(int node) => MemoryCapacity[node] - MemoryUsed[node];

    public int DeviceUsed(int device) => DeviceUsedMilli[device];

    public int FirstDevice(int node) => DeviceStart[node];

    public int DevicesOn(int node) => DeviceCount[node];

    public int WholeOwner(int device) => DeviceWholeOwner[device];

    public int Sharers(int device) => DeviceSharers[device];

    public int ModelOf(int device) => DeviceModel[device];

    /// <summary>Total accelerator share allocated, milli-devices (for allocation ratios).</summary>
    public long AllocatedMilli { get; private set; }

    /// <summary>Devices of one model (catalog id) in the cluster.</summary>
    public int DevicesOfModel(int model) => _devicesOfModel[model];

    /// <summary>Free accelerator share on the devices of one model, milli-devices.</summary>
    public long FreeMilliOfModel(int model) => (_devicesOfModel[model] * 1000L) - _allocatedOfModel[model];

    public void SetSchedulable(int node, bool schedulable)
    {
        if (Schedulable[node] != schedulable)
        {
            Schedulable[node] = schedulable;
            Touch(node);
        }
    }

    /// <summary>Nodes changed after <paramref name="sequence"/>, or false when the log no longer reaches back
    /// that far (the caller then refreshes everything).</summary>
    internal bool TryGetChangesSince(long sequence, out ReadOnlySpan<int> first, out ReadOnlySpan<int> second)
    {
        var count = ChangeSequence - sequence;
        first = second = default;
        if (count < 0 || count > ChangeLogSize)
        {
            return false;
        }

        var start = (int)(sequence % ChangeLogSize);
        var n = (int)count;
        if (start + n <= ChangeLogSize)
        {
            first = _changeLog.AsSpan(start, n);
        }
        else
        {
            first = _changeLog.AsSpan(start);
            second = _changeLog.AsSpan(0, n - first.Length);
        }

        return true;
    }

    private void Touch(int node)
    {
        Version[node]++;
        _changeLog[(int)(ChangeSequence % ChangeLogSize)] = node;
        ChangeSequence++;
    }

    private void RefreshAggregates(int node)
    {
        var free = 0;
        var maxFree = 0;
        var total = 0;
        var end = DeviceStart[node] + DeviceCount[node];
        for (var d = DeviceStart[node]; d < end; d++)
        {
            var left = 1000 - DeviceUsedMilli[d];
            total += left;
            if (left == 1000)
            {
                free++;
            }

            if (left > maxFree)
            {
                maxFree = left;
            }
        }

        FreeWhole[node] = free;
        MaxFreeMilli[node] = maxFree;
        FreeMilliTotal[node] = total;
    }

    /// <summary>Takes the pod's resources on <paramref name="allocation"/>'s node and devices. The caller
    /// (the placer) has checked that they fit; this re-checks and refuses rather than overcommit.</summary>
    internal bool Allocate(in PodAllocation allocation, int owner)
    {
        var node = allocation.Node;
        if (FreeCpu(node) < allocation.CpuMilli || FreeMemory(node) < allocation.MemoryMiB)
        {
            return false;
        }

        foreach (var d in allocation.Devices)
        {
            if (DeviceNode[d] != node ||
                (allocation.Whole ? DeviceUsedMilli[d] != 0 : DeviceWholeOwner[d] >= 0 || DeviceUsedMilli[d] + allocation.MilliPerDevice > 1000) ||
                DeviceMemory[d] - DeviceMemoryUsed[d] < allocation.DeviceMemoryMiB)
            {
                return false;
            }
        }

        CpuUsed[node] += allocation.CpuMilli;
        MemoryUsed[node] += allocation.MemoryMiB;
        foreach (var d in allocation.Devices)
        {
            DeviceUsedMilli[d] += allocation.MilliPerDevice;
            DeviceMemoryUsed[d] += allocation.DeviceMemoryMiB;
            if (allocation.Whole)
            {
                DeviceWholeOwner[d] = owner;
            }
            else
            {
                DeviceSharers[d]++;
            }

            AllocatedMilli += allocation.MilliPerDevice;
            _allocatedOfModel[DeviceModel[d]] += allocation.MilliPerDevice;
        }

        RefreshAggregates(node);
        Touch(node);
        return true;
    }

    internal void Release(in PodAllocation allocation)
    {
        var node = allocation.Node;
        CpuUsed[node] -= allocation.CpuMilli;
        MemoryUsed[node] -= allocation.MemoryMiB;
        foreach (var d in allocation.Devices)
        {
            DeviceUsedMilli[d] -= allocation.MilliPerDevice;
            DeviceMemoryUsed[d] -= allocation.DeviceMemoryMiB;
            if (allocation.Whole)
            {
                DeviceWholeOwner[d] = -1;
            }
            else
            {
                DeviceSharers[d]--;
            }

            AllocatedMilli -= allocation.MilliPerDevice;
            _allocatedOfModel[DeviceModel[d]] -= allocation.MilliPerDevice;
        }

        RefreshAggregates(node);
        Touch(node);
    }

    /// <summary>A fingerprint of all allocation arrays, to prove that a what-if left nothing behind.</summary>
    internal long Fingerprint()
    {
        var hash = new HashCode();
        for (var i = 0; i < NodeCount; i++)
        {
            hash.Add(CpuUsed[i]);
            hash.Add(MemoryUsed[i]);
            hash.Add(Schedulable[i]);
        }

        for (var d = 0; d < TotalDevices; d++)
        {
            hash.Add(DeviceUsedMilli[d]);
            hash.Add(DeviceWholeOwner[d]);
            hash.Add(DeviceSharers[d]);
            hash.Add(DeviceMemoryUsed[d]);
        }

        return hash.ToHashCode();
    }
}

/// <summary>
/// Where one pod sits: a node, the devices it holds (whole, or one device shared at
/// <see cref="MilliPerDevice"/>), and the CPU and memory it takes there.
/// </summary>
public readonly record struct PodAllocation(
    int Node,
    int[] Devices,
    int MilliPerDevice,
    long CpuMilli,
    long MemoryMiB,
    long DeviceMemoryMiB)
{
    public bool Whole => MilliPerDevice == 1000;
}
