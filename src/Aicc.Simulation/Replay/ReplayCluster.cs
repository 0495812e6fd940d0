using System.Globalization;
using Aicc.Scheduling.Model;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Replay;

/// <summary>
/// The cluster a trace is replayed on: uniform nodes (<c>--gpus N --gpus-per-node 8 --model A100</c>), a
/// size derived from the offered load (<c>--load L</c>), or a node CSV (<c>--nodes FILE</c>). Nodes are
/// grouped 16 to a rack for topology.
/// </summary>
public sealed class ReplayCluster
{
    public const int NodesPerRack = 16;

    private ReplayCluster(AcceleratorCatalog catalog, IReadOnlyList<NodeSpec> nodes, string model)
    {
        Catalog = catalog;
        Nodes = nodes;
        Model = model;
        TotalGpus = nodes.Sum(n => n.Devices.Count);
        GpusPerNode = nodes.Count == 0 ? 0 : nodes.Max(n => n.Devices.Count);
    }

    public AcceleratorCatalog Catalog { get; }

    public IReadOnlyList<NodeSpec> Nodes { get; }

    /// <summary>The model the trace's unconstrained jobs are charged to in quotas (the most common one).</summary>
    public string Model { get; }

    public int TotalGpus { get; }

    public int GpusPerNode { get; }

    /// <summary><paramref name="gpus"/> devices in nodes of <paramref name="gpusPerNode"/>; a remainder makes one smaller node.</summary>
    public static ReplayCluster Uniform(int gpus, int gpusPerNode, string model, AcceleratorCatalog? catalog = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gpus, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gpusPerNode, 1);
        catalog ??= ClusterBuilder.DefaultCatalog();
        if (!catalog.TryGet(model, out var type))
        {
            type = catalog.Add(new AcceleratorType(model, AcceleratorKind.Gpu, 81_920, 1000));
        }

        var nodes = new List<NodeSpec>(ClusterBuilder.Uniform(gpus / gpusPerNode, gpusPerNode, type.Name, nodesPerRack: NodesPerRack, domainSize: gpusPerNode >= 4 ? gpusPerNode / 2 : 0));
        var rest = gpus % gpusPerNode;
        if (rest > 0)
        {
            var i = nodes.Count;
            nodes.Add(new NodeSpec
            {
                Name = $"node-{i:D5}",
                CpuMilli = 128_000,
                MemoryMiB = 1_048_576,
                Devices = NodeSpec.UniformDevices(rest, type.Name),
                Rack = $"rack-{i / NodesPerRack:D4}",
                Block = "block-000",
            });
        }

        return new ReplayCluster(catalog, nodes, type.Name);
    }

    /// <summary>
    /// Sizes a uniform cluster so that offered GPU-time / (capacity × trace span) = <paramref name="load"/>,
    /// rounded up to whole nodes and never smaller than the largest job.
    /// </summary>
    public static ReplayCluster ForLoad(JobTrace trace, double load, int gpusPerNode, string model)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(load);
        var span = Math.Max(1, trace.SpanSeconds);
        var gpus = (int)Math.Ceiling(trace.TotalGpuSeconds / (load * span));
        var largest = trace.Jobs.Count == 0 ? 1 : (int)Math.Ceiling(trace.Jobs.Max(j => j.Gpus));
        gpus = Math.Max(Math.Max(gpus, largest), 1);
        gpus = (gpus + gpusPerNode - 1) / gpusPerNode * gpusPerNode;
        return Uniform(gpus, gpusPerNode, model);
    }

    /// <summary>
    /// Reads <c>name,gpus,model[,rack][,cpu_milli][,memory_mib]</c>, one node a line; every problem is
    /// named by file, line and field.
    /// </summary>
    public static ReplayCluster FromCsv(string path)
    {
        if (!File.Exists(path))
        {
            throw new JobTraceException([new JobTraceProblem(path, 0, "file", "does not exist")]);
        }

        using var reader = new StreamReader(path);
        var lines = new CsvLines(path, reader);
        if (!lines.ReadHeader(out var header))
        {
            throw new JobTraceException([new JobTraceProblem(path, 1, "header", "the file is empty")]);
        }

        var cName = lines.Column(header, "name");
        var cGpus = lines.Column(header, "gpus");
        var cModel = lines.Column(header, "model");
        var cRack = lines.Column(header, "rack", required: false);
        var cCpu = lines.Column(header, "cpu_milli", required: false);
        var cMemory = lines.Column(header, "memory_mib", required: false);
        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        var catalog = ClusterBuilder.DefaultCatalog();
        var nodes = new List<NodeSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var models = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        while (lines.Next() is { } f)
        {
            var before = lines.Problems.Count;
            var name = lines.Field(f, cName, "name");
            if (name is not null && !names.Add(name))
            {
                lines.Problem("name", $"'{name}' appears twice");
            }

            var gpus = lines.Number(f, cGpus, "gpus", 0, 64);
            var model = lines.Field(f, cModel, "model");
            var rack = lines.Field(f, cRack, "rack", required: false) ?? $"rack-{nodes.Count / NodesPerRack:D4}";
            var cpu = lines.Number(f, cCpu, "cpu_milli", 0, 1e9, required: false) ?? 128_000;
            var memory = lines.Number(f, cMemory, "memory_mib", 0, 1e12, required: false) ?? 1_048_576;
            if (gpus is { } g && g != Math.Floor(g))
            {
                lines.Problem("gpus", $"{g.ToString(CultureInfo.InvariantCulture)} is not a whole number");
            }

            if (lines.Problems.Count == before)
            {
                if (!catalog.TryGet(model!, out var type))
                {
                    type = catalog.Add(new AcceleratorType(model!, AcceleratorKind.Gpu, 0, 1000));
                }

                models[type.Name] = models.GetValueOrDefault(type.Name) + (int)gpus!.Value;
                nodes.Add(new NodeSpec
                {
                    Name = name!,
                    CpuMilli = (long)cpu,
                    MemoryMiB = (long)memory,
                    Devices = NodeSpec.UniformDevices((int)gpus.Value, type.Name),
                    Rack = rack,
                    Block = "block-000",
                });
            }
        }

        if (lines.Problems.Count == 0 && nodes.Sum(n => n.Devices.Count) == 0)
        {
            lines.Problem("gpus", "the cluster has no GPUs");
        }

        if (lines.Problems.Count > 0)
        {
            throw lines.Failure();
        }

        return new ReplayCluster(catalog, nodes, models.MaxBy(kv => kv.Value).Key);
    }
}
