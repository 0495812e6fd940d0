namespace Aicc.Scheduling.Model;

/// <summary>
/// Builds uniform clusters from a few numbers: what `--gpus N --gpus-per-node 8` means in the simulator
/// and what benchmarks and tests place onto. Nodes are grouped <c>nodesPerRack</c> to a rack and
/// <c>racksPerBlock</c> racks to a network block; each node's devices form NVLink domains of
/// <c>domainSize</c>.
/// </summary>
public static class ClusterBuilder
{
    /// <summary>A small catalog of common data-centre accelerators with SCU weights (A100 = 1 SCU).</summary>
    public static AcceleratorCatalog DefaultCatalog() => new(
    [
        new AcceleratorType("A100", AcceleratorKind.Gpu, 81_920, 1000),
        new AcceleratorType("H100", AcceleratorKind.Gpu, 81_920, 3000),
        new AcceleratorType("V100", AcceleratorKind.Gpu, 32_768, 400),
        new AcceleratorType("T4", AcceleratorKind.Gpu, 16_384, 250),
        new AcceleratorType("Ascend910B", AcceleratorKind.Npu, 65_536, 900),
    ]);

    public static IReadOnlyList<NodeSpec> Uniform(
        int nodes,
        int devicesPerNode,
        string model,
        long cpuMilliPerNode = 128_000,
        long memoryMiBPerNode = 1_048_576,
        int nodesPerRack = 16,
        int racksPerBlock = 32,
        int domainSize = 0,
        string namePrefix = "node")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodes);
        ArgumentOutOfRangeException.ThrowIfNegative(devicesPerNode);
        ArgumentOutOfRangeException.ThrowIfLessThan(nodesPerRack, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(racksPerBlock, 1);
        var devices = NodeSpec.UniformDevices(devicesPerNode, model, 0, domainSize);
        var result = new NodeSpec[nodes];
        for (var i = 0; i < nodes; i++)
        {
            var rack = i / nodesPerRack;
            result[i] = new NodeSpec
            {
                Name = $"{namePrefix}-{i:D5}",
                CpuMilli = cpuMilliPerNode,
                MemoryMiB = memoryMiBPerNode,
                Devices = devices,
                Rack = $"rack-{rack:D4}",
                Block = $"block-{rack / racksPerBlock:D3}",
            };
        }

        return result;
    }
}
