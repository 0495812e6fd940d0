namespace Aicc.Simulation.Planning;

/// <summary>
/// One server type the center can buy: its accelerators (model, count, standard compute units and dense
/// BF16 TFLOPS each), list price, nameplate power, height and network ports (one per accelerator in a
/// rail-optimised fabric).
/// </summary>
public sealed record ServerType
{
    public required string Name { get; init; }

    public required string Accelerator { get; init; }

    public required int Accelerators { get; init; }

    /// <summary>Standard compute units per accelerator (A100 80 GB = 1): the planner's speed ratio between models.</summary>
    public required double Scu { get; init; }

    /// <summary>Dense BF16 TFLOPS per accelerator; 0 when unknown (then services sized in TFLOP cannot use it).</summary>
    public double Tflops { get; init; }

    public double MemoryGb { get; init; }

    public required double Price { get; init; }

    /// <summary>Nameplate (maximum) power in kW.</summary>
    public required double PowerKw { get; init; }

    public required int RackUnits { get; init; }

    public int NetworkPorts { get; init; }

    public double ScuPerServer => Scu * Accelerators;
}

/// <summary>Where the servers go and what running them costs.</summary>
public sealed record SiteSpec
{
    public string Currency { get; init; } = "USD";

    /// <summary>Power usage effectiveness: facility power / IT power.</summary>
    public double Pue { get; init; } = 1.3;

    public double ElectricityPerKwh { get; init; } = 0.10;

    /// <summary>Average draw as a fraction of nameplate power, for the electricity bill (capacity uses nameplate).</summary>
    public double AveragePowerFraction { get; init; } = 0.7;

    public double DepreciationYears { get; init; } = 5;

    /// <summary>Yearly maintenance and support as a fraction of hardware capex.</summary>
    public double MaintenanceFraction { get; init; } = 0.08;

    public double RackPowerKw { get; init; } = 40;

    public int RackUnits { get; init; } = 42;

    public int SwitchPorts { get; init; } = 64;

    public double SwitchPrice { get; init; } = 40_000;

    public double SwitchPowerKw { get; init; } = 1.5;

    public int SwitchRackUnits { get; init; } = 1;

    /// <summary>Price of one raw TB of shared storage.</summary>
    public double StoragePricePerTb { get; init; } = 150;

    /// <summary>Raw TB per usable TB (replication or erasure coding).</summary>
    public double StorageOverhead { get; init; } = 1.5;

    public double StorageKwPerPb { get; init; } = 8;

    /// <summary>Fraction of peak TFLOPS an inference server delivers (for services sized in TFLOP per request).</summary>
    public double InferenceEfficiency { get; init; } = 0.35;
}

/// <summary>
/// The server types and site parameters the planner chooses from. An embedded default (today's common
/// 8-accelerator servers, approximate figures: docs/planner.md) is overridden by a file: site keys it
/// names replace the default's, a server type with a default's name replaces it, others are added, and
/// <c>replace_servers: true</c> drops the default server types.
/// </summary>
public sealed class PlanCatalog
{
    public const string ResourceName = "Aicc.Simulation.Planning.default-catalog.yaml";

    public PlanCatalog(SiteSpec site, IReadOnlyList<ServerType> servers)
    {
        Site = site;
        Servers = servers;
    }

    public SiteSpec Site { get; }

    public IReadOnlyList<ServerType> Servers { get; }

    /// <summary>SCU of an accelerator model (the first server type that carries it), or null.</summary>
    public double? ScuOf(string model) => Servers.FirstOrDefault(s => string.Equals(s.Accelerator, model, StringComparison.OrdinalIgnoreCase))?.Scu;

    public static string DefaultText()
    {
        using var stream = typeof(PlanCatalog).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static PlanCatalog Default() => Parse("(embedded default catalog)", DefaultText(), null);

    /// <summary>The default catalog, overridden by <paramref name="path"/> when given.</summary>
    public static PlanCatalog Load(string? path)
    {
        var baseline = Default();
        if (path is null)
        {
            return baseline;
        }

        if (!System.IO.File.Exists(path))
        {
            throw new PlanInputException([new(path, 0, "file", "does not exist")]);
        }

        return Parse(path, System.IO.File.ReadAllText(path), baseline);
    }

    /// <summary>Parses catalog text over <paramref name="baseline"/> (null: a complete catalog).</summary>
    public static PlanCatalog Parse(string file, string text, PlanCatalog? baseline)
    {
        var y = new YamlFields(file);
        var root = y.Root(text);
        if (root is null)
        {
            throw y.Failure();
        }

        var site = baseline?.Site ?? new SiteSpec();
        if (root.Child("site") is { } s)
        {
            site = ReadSite(s, site);
            s.RejectUnknown();
        }

        var replace = root.Get("replace_servers") is YamlDotNet.RepresentationModel.YamlScalarNode { Value: "true" };
        var servers = replace || baseline is null ? new List<ServerType>() : [.. baseline.Servers];
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in root.Maps("servers", required: baseline is null))
        {
            var server = ReadServer(m);
            m.RejectUnknown();
            if (server is null)
            {
                continue;
            }

            if (!names.Add(server.Name))
            {
                m.Problem("name", $"'{server.Name}' appears twice");
                continue;
            }

            if (server.PowerKw > site.RackPowerKw)
            {
                m.Problem("power_kw", $"{server.PowerKw} kW exceeds the rack power limit site.rack_power_kw = {site.RackPowerKw} kW");
            }

            if (server.RackUnits > site.RackUnits)
            {
                m.Problem("rack_units", $"{server.RackUnits} U exceeds the rack height site.rack_units = {site.RackUnits} U");
            }

            var at = servers.FindIndex(x => string.Equals(x.Name, server.Name, StringComparison.OrdinalIgnoreCase));
            if (at >= 0)
            {
                servers[at] = server;
            }
            else
            {
                servers.Add(server);
            }
        }

        root.RejectUnknown();
        if (y.Problems.Count == 0 && servers.Count == 0)
        {
            y.Problems.Add(new(file, 1, "servers", "the catalog has no server types"));
        }

        if (y.Problems.Count > 0)
        {
            throw y.Failure();
        }

        return new PlanCatalog(site, servers);
    }

    private static SiteSpec ReadSite(YamlFields.Map m, SiteSpec d) => new()
    {
        Currency = m.String("currency") ?? d.Currency,
        Pue = m.Number("pue", 1, 5) ?? d.Pue,
        ElectricityPerKwh = m.Number("electricity_per_kwh", 0, 10) ?? d.ElectricityPerKwh,
        AveragePowerFraction = m.Number("average_power_fraction", 0.01, 1) ?? d.AveragePowerFraction,
        DepreciationYears = m.Number("depreciation_years", 0.5, 30) ?? d.DepreciationYears,
        MaintenanceFraction = m.Number("maintenance_fraction", 0, 1) ?? d.MaintenanceFraction,
        RackPowerKw = m.Number("rack_power_kw", 0.5, 500) ?? d.RackPowerKw,
        RackUnits = m.Integer("rack_units", 1, 100) ?? d.RackUnits,
        SwitchPorts = EvenPorts(m) ?? d.SwitchPorts,
        SwitchPrice = m.Number("switch_price", 0, 1e8) ?? d.SwitchPrice,
        SwitchPowerKw = m.Number("switch_power_kw", 0, 100) ?? d.SwitchPowerKw,
        SwitchRackUnits = m.Integer("switch_rack_units", 1, 20) ?? d.SwitchRackUnits,
        StoragePricePerTb = m.Number("storage_price_per_tb", 0, 1e6) ?? d.StoragePricePerTb,
        StorageOverhead = m.Number("storage_overhead", 1, 10) ?? d.StorageOverhead,
        StorageKwPerPb = m.Number("storage_kw_per_pb", 0, 1000) ?? d.StorageKwPerPb,
        InferenceEfficiency = m.Number("inference_efficiency", 0.01, 1) ?? d.InferenceEfficiency,
    };

    private static int? EvenPorts(YamlFields.Map m)
    {
        var ports = m.Integer("switch_ports", 4, 1024);
        if (ports is { } p && p % 2 != 0)
        {
            m.Problem("switch_ports", $"{p} is odd: a non-blocking leaf splits its ports half down, half up");
            return null;
        }

        return ports;
    }

    private static ServerType? ReadServer(YamlFields.Map m)
    {
        var name = m.String("name", required: true);
        var accelerator = m.String("accelerator", required: true);
        var count = m.Integer("accelerators", 1, 64, required: true);
        var scu = m.Number("scu", 0.001, 1000, required: true);
        var tflops = m.Number("tflops", 0, 100_000);
        var memory = m.Number("memory_gb", 0, 100_000);
        var price = m.Number("price", 0, 1e9, required: true);
        var power = m.Number("power_kw", 0.01, 500, required: true);
        var units = m.Integer("rack_units", 1, 100, required: true);
        var ports = m.Integer("network_ports", 0, 256);
        if (name is null || accelerator is null || count is null || scu is null || price is null || power is null || units is null)
        {
            return null;
        }

        return new ServerType
        {
            Name = name,
            Accelerator = accelerator,
            Accelerators = count.Value,
            Scu = scu.Value,
            Tflops = tflops ?? 0,
            MemoryGb = memory ?? 0,
            Price = price.Value,
            PowerKw = power.Value,
            RackUnits = units.Value,
            NetworkPorts = ports ?? count.Value,
        };
    }
}
