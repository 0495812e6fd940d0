using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Packing;

/// <summary>A cluster and a pod list ready for the packing experiment: the core's catalog and node specs,
/// and each pod resolved to a <see cref="PodRequest"/> once (pods of one shape share one request).</summary>
public sealed class PackingInput
{
    private PackingInput(string workload, AcceleratorCatalog catalog, IReadOnlyList<NodeSpec> nodes, OpenbPod[] pods, PodRequest[] requests)
    {
        Workload = workload;
        Catalog = catalog;
        Nodes = nodes;
        Pods = pods;
        Requests = requests;
        Gpus = nodes.Sum(n => n.Devices.Count);
    }

    /// <summary>The pod list's name, e.g. <c>openb_pod_list_default</c>.</summary>
    public string Workload { get; }

    public AcceleratorCatalog Catalog { get; }

    public IReadOnlyList<NodeSpec> Nodes { get; }

    /// <summary>Pods in name order (the artifact sorts by name before shuffling).</summary>
    public IReadOnlyList<OpenbPod> Pods { get; }

    /// <summary>The core's request for <see cref="Pods"/>[i].</summary>
    public IReadOnlyList<PodRequest> Requests { get; }

    /// <summary>Accelerators in the cluster.</summary>
    public int Gpus { get; }

    /// <summary>Models that the node list declares; pod lists may name only these.</summary>
    public static IReadOnlySet<string> ModelsOf(IReadOnlyList<OpenbNode> nodes) =>
        nodes.Where(n => n.Gpus > 0).Select(n => n.Model).ToHashSet(StringComparer.Ordinal);

    public static PackingInput Create(string workload, IReadOnlyList<OpenbNode> nodes, IReadOnlyList<OpenbPod> pods)
    {
        var catalog = new AcceleratorCatalog([]);
        foreach (var model in nodes.Where(n => n.Gpus > 0).Select(n => n.Model).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            catalog.Add(new AcceleratorType(model, AcceleratorKind.Gpu, 0, 1000));
        }

        // Node order is name order: the artifact breaks score ties toward the smallest node name.
        var specs = nodes.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => new NodeSpec
        {
            Name = n.Name,
            CpuMilli = n.CpuMilli,
            MemoryMiB = n.MemoryMiB,
            Devices = n.Gpus > 0 ? NodeSpec.UniformDevices(n.Gpus, n.Model) : [],
        }).ToArray();

        var sorted = pods.OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();
        var shapes = new Dictionary<(long, long, int, int, string), PodRequest>();
        var requests = new PodRequest[sorted.Length];
        for (var i = 0; i < sorted.Length; i++)
        {
            var p = sorted[i];
            var key = (p.CpuMilli, p.MemoryMiB, p.NumGpu, p.GpuMilli, p.GpuSpec);
            if (!shapes.TryGetValue(key, out var request))
            {
                request = new PodRequest(ToPodSet(p), MaskOf(catalog, p.GpuSpec));
                shapes.Add(key, request);
            }

            requests[i] = request;
        }

        return new PackingInput(workload, catalog, specs, sorted, requests);
    }

    internal static ulong MaskOf(AcceleratorCatalog catalog, string spec)
    {
        if (spec.Length == 0)
        {
            return catalog.AllModelsMask;
        }

        var mask = 0UL;
        foreach (var model in AcceleratorRequest.ParseModels(spec))
        {
            mask |= catalog.TryGet(model, out var type) ? 1UL << type.Id : 0;
        }

        return mask;
    }

    private static PodSetSpec ToPodSet(OpenbPod p) => new()
    {
        CpuMilli = p.CpuMilli,
        MemoryMiB = p.MemoryMiB,
        Accelerator = p.NumGpu == 0 ? AcceleratorRequest.None
            : p.GpuMilli < 1000 ? AcceleratorRequest.Fraction(p.GpuMilli, [.. AcceleratorRequest.ParseModels(p.GpuSpec)])
            : AcceleratorRequest.Whole(p.NumGpu, [.. AcceleratorRequest.ParseModels(p.GpuSpec)]),
    };
}
