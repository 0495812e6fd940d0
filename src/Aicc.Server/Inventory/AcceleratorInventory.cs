using System.Diagnostics;
using System.Globalization;
using Aicc.Scheduling.Model;
using Aicc.Server.Hosting;

namespace Aicc.Server.Inventory;

/// <summary>A device as stored in the node table.</summary>
public sealed record DeviceRecord(int Index, string Model, long MemoryMiB, int Domain);

/// <summary>A node as discovered at start-up.</summary>
public sealed record DiscoveredNode(string Name, long CpuMilli, long MemoryMiB, IReadOnlyList<DeviceRecord> Devices, string Source);

/// <summary>
/// What this host offers: real GPUs from <c>nvidia-smi</c> when it is present, otherwise the virtual
/// devices of the configuration, so the whole product runs on a laptop without a GPU.
/// </summary>
public sealed class AcceleratorInventory
{
    public AcceleratorInventory(ServerOptions options)
    {
        Catalog = ClusterBuilder.DefaultCatalog();
        var gpus = options.DetectNvidia ? QueryNvidiaSmi() : null;
        if (gpus is { Count: > 0 })
        {
            var devices = gpus.Select(g => new DeviceRecord(g.Index, Catalog.Add(new AcceleratorType(g.Model, AcceleratorKind.Gpu, g.MemoryMiB, ScuOf(g.Model))).Name, g.MemoryMiB, 0)).ToList();
            Nodes = [new DiscoveredNode(HostName(), Environment.ProcessorCount * 1000L, TotalMemoryMiB(), devices, "nvidia-smi")];
            return;
        }

        if (!Catalog.TryGet(options.VirtualModel, out var model))
        {
            model = Catalog.Add(new AcceleratorType(options.VirtualModel, AcceleratorKind.Gpu, 0, options.VirtualModelScuMilli));
        }

        var nodes = new List<DiscoveredNode>();
        for (var n = 0; n < options.VirtualNodes; n++)
        {
            var devices = Enumerable.Range(0, options.VirtualDevicesPerNode)
                .Select(i => new DeviceRecord(i, model.Name, model.MemoryMiB, options.VirtualDevicesPerNode >= 4 ? i / (options.VirtualDevicesPerNode / 2) : 0))
                .ToList();
            nodes.Add(new DiscoveredNode($"local-{n}", options.VirtualNodeCpuMilli, options.VirtualNodeMemoryMiB, devices, "virtual"));
        }

        Nodes = nodes;
    }

    private AcceleratorInventory(AcceleratorCatalog catalog, IReadOnlyList<DiscoveredNode> nodes, IReadOnlyDictionary<string, string> addresses)
    {
        Catalog = catalog;
        Nodes = nodes;
        SlurmAddresses = addresses;
    }

    public AcceleratorCatalog Catalog { get; }

    public IReadOnlyList<DiscoveredNode> Nodes { get; }

    /// <summary>Node name to the address Slurm reaches it at (MASTER_ADDR of a gang); empty without Slurm.</summary>
    public IReadOnlyDictionary<string, string> SlurmAddresses { get; } = new Dictionary<string, string>();

    /// <summary>
    /// The nodes of a Slurm cluster (those of <c>Aicc:Slurm:Partition</c> when set), read once at start
    /// from slurmrestd: CPUs, memory, and one device per GPU in the node's GRES.
    /// </summary>
    public static AcceleratorInventory FromSlurm(ServerOptions options, Execution.Slurm.SlurmClient slurm)
    {
        IReadOnlyList<Execution.Slurm.SlurmNode> listed;
        try
        {
            listed = slurm.NodesAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Execution.Slurm.SlurmException e)
        {
            throw new InvalidOperationException($"cannot read the nodes of the Slurm cluster at {options.Slurm.Url}: {e.Message}. Check Aicc:Slurm:Url, User and the token; 'scripts/slurm-dev.sh status' shows a development cluster.", e);
        }

        var catalog = ClusterBuilder.DefaultCatalog();
        var partition = options.Slurm.Partition;
        var nodes = new List<DiscoveredNode>();
        var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var n in listed.Where(n => partition.Length == 0 || n.Partitions.Contains(partition, StringComparer.Ordinal)).OrderBy(n => n.Name, StringComparer.Ordinal))
        {
            var devices = new List<DeviceRecord>();
            foreach (var (model, count) in ParseGres(n.Gres, options.Slurm.DefaultModel))
            {
                if (!catalog.TryGet(model, out var type))
                {
                    type = catalog.Add(new AcceleratorType(model, AcceleratorKind.Gpu, 0, ScuOf(model)));
                }

                for (var i = 0; i < count; i++)
                {
                    devices.Add(new DeviceRecord(devices.Count, type.Name, type.MemoryMiB, 0));
                }
            }

            nodes.Add(new DiscoveredNode(n.Name, Math.Max(1, n.Cpus) * 1000L, Math.Max(1, n.RealMemoryMiB), devices, "slurm"));
            addresses[n.Name] = n.Address.Length > 0 ? n.Address : n.Name;
        }

        if (nodes.Count == 0)
        {
            throw new InvalidOperationException(partition.Length == 0
                ? $"the Slurm cluster at {options.Slurm.Url} lists no nodes"
                : $"no Slurm node is in partition '{partition}' (Aicc:Slurm:Partition); sinfo lists the partitions");
        }

        return new AcceleratorInventory(catalog, nodes, addresses);
    }

    /// <summary>The GPUs in a GRES string such as <c>gpu:h100:8(S:0-1),gpu:a100:2</c> or <c>gpu:4</c>: model and count per entry.</summary>
    internal static List<(string Model, int Count)> ParseGres(string gres, string defaultModel)
    {
        var result = new List<(string, int)>();
        foreach (var raw in gres.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var entry = raw.IndexOf('(', StringComparison.Ordinal) is var paren and >= 0 ? raw[..paren] : raw;
            var parts = entry.Split(':');
            if (parts[0] != "gpu" || parts.Length < 2 || !int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0)
            {
                continue;
            }

            result.Add((parts.Length >= 3 ? ModelName(parts[1]) : defaultModel, Math.Min(count, 64)));
        }

        return result;
    }

    private static long ScuOf(string model) => model switch
    {
        "H100" => 3000,
        "A100" => 1000,
        "V100" => 400,
        "T4" => 250,
        _ => 1000,
    };

    private static string HostName()
    {
        var name = Environment.MachineName.ToLowerInvariant();
        return string.IsNullOrEmpty(name) ? "local-0" : name;
    }

    private static long TotalMemoryMiB() => Math.Max(1024, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024));

    /// <summary>Maps the marketing name nvidia-smi prints to a catalog model ("NVIDIA A100-SXM4-80GB" → A100).</summary>
    internal static string ModelName(string raw)
    {
        foreach (var known in new[] { "H100", "A100", "V100", "T4" })
        {
            if (raw.Contains(known, StringComparison.OrdinalIgnoreCase))
            {
                return known;
            }
        }

        var cleaned = new string([.. raw.Replace("NVIDIA", "", StringComparison.OrdinalIgnoreCase).Where(char.IsLetterOrDigit)]);
        return cleaned.Length == 0 ? "GPU" : cleaned;
    }

    internal static List<(int Index, string Model, long MemoryMiB)> ParseNvidiaSmi(string csv)
    {
        var result = new List<(int, string, long)>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length >= 3 &&
                int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) &&
                long.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var memory))
            {
                result.Add((index, ModelName(parts[1]), memory));
            }
        }

        return result;
    }

    private static List<(int Index, string Model, long MemoryMiB)>? QueryNvidiaSmi()
    {
        try
        {
            var start = new ProcessStartInfo("nvidia-smi")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("--query-gpu=index,name,memory.total");
            start.ArgumentList.Add("--format=csv,noheader,nounits");
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd();
            return process.WaitForExit(10_000) && process.ExitCode == 0 ? ParseNvidiaSmi(output) : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
