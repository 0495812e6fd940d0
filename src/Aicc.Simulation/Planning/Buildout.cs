namespace Aicc.Simulation.Planning;

/// <summary>Servers of one type in a plan.</summary>
public sealed record ServerCount(ServerType Type, int Count)
{
    public int Gpus => Type.Accelerators * Count;

    public double Scu => Type.ScuPerServer * Count;
}

/// <summary>Racks of one server type: as many servers as both the power limit and the height allow.</summary>
public sealed record RackFill(string ServerType, int ServersPerRack, int Racks, string LimitedBy);

/// <summary>
/// A non-blocking two-tier fat tree (leaf-spine folded Clos) of k-port switches: each leaf gives k/2 ports
/// to servers and k/2 to spines, so L = ⌈endpoints / (k/2)⌉ leaves and S = ⌈L·(k/2) / k⌉ spines; two tiers
/// reach at most k²/2 endpoints (Al-Fares, Loukissas and Vahdat, "A Scalable, Commodity Data Center
/// Network Architecture", SIGCOMM 2008). Up to k endpoints need one switch and no spine.
/// </summary>
public sealed record FatTree(int Endpoints, int SwitchPorts, int Leaves, int Spines, bool FitsTwoTiers)
{
    public int Switches => Leaves + Spines;

    public static FatTree For(int endpoints, int switchPorts)
    {
        if (endpoints <= 0)
        {
            return new FatTree(0, switchPorts, 0, 0, true);
        }

        if (endpoints <= switchPorts)
        {
            return new FatTree(endpoints, switchPorts, 1, 0, true);
        }

        var down = switchPorts / 2;
        var leaves = (endpoints + down - 1) / down;
        var spines = ((leaves * down) + switchPorts - 1) / switchPorts;
        return new FatTree(endpoints, switchPorts, leaves, spines, endpoints <= switchPorts * switchPorts / 2);
    }
}

/// <summary>Everything that follows from a mix of servers: racks, power, network, storage, money.</summary>
public sealed record Buildout
{
    public required IReadOnlyList<ServerCount> Servers { get; init; }

    public int ServerTotal => Servers.Sum(s => s.Count);

    public int Gpus => Servers.Sum(s => s.Gpus);

    public double Scu => Servers.Sum(s => s.Scu);

    public required IReadOnlyList<RackFill> ServerRacks { get; init; }

    public required int NetworkRacks { get; init; }

    public int Racks => ServerRacks.Sum(r => r.Racks) + NetworkRacks;

    public required FatTree Network { get; init; }

    public required double StorageUsableTb { get; init; }

    public required double StorageRawTb { get; init; }

    /// <summary>Nameplate IT power: servers, switches and storage, kW.</summary>
    public required double ItKw { get; init; }

    /// <summary>IT power × PUE, kW.</summary>
    public required double FacilityKw { get; init; }

    public required double ServerCapex { get; init; }

    public required double NetworkCapex { get; init; }

    public required double StorageCapex { get; init; }

    public double Capex => ServerCapex + NetworkCapex + StorageCapex;

    public required double ElectricityPerYear { get; init; }

    public required double MaintenancePerYear { get; init; }

    public double OpexPerYear => ElectricityPerYear + MaintenancePerYear;

    public required double DepreciationYears { get; init; }

    /// <summary>Capex spread over its depreciation plus a year of opex: the figure the search minimises.</summary>
    public double YearlyCost => (Capex / DepreciationYears) + OpexPerYear;

    /// <summary>
    /// The buildout of <paramref name="servers"/> (same type counts are added) on <paramref name="site"/>
    /// with <paramref name="storageUsableTb"/> of datasets. Server types never share a rack (each rack holds
    /// one type's power profile); switches go in their own racks.
    /// </summary>
    public static Buildout For(IEnumerable<ServerCount> servers, SiteSpec site, double storageUsableTb)
    {
        var merged = servers.Where(s => s.Count > 0)
            .GroupBy(s => s.Type.Name, StringComparer.OrdinalIgnoreCase)
            .Select(g => new ServerCount(g.First().Type, g.Sum(s => s.Count)))
            .OrderBy(s => s.Type.Name, StringComparer.OrdinalIgnoreCase)
            .ToList();
        var racks = new List<RackFill>();
        foreach (var s in merged)
        {
            var byPower = (int)Math.Floor((site.RackPowerKw + 1e-9) / s.Type.PowerKw);
            var bySpace = site.RackUnits / s.Type.RackUnits;
            var perRack = Math.Max(1, Math.Min(byPower, bySpace));
            racks.Add(new RackFill(s.Type.Name, perRack, (s.Count + perRack - 1) / perRack, byPower < bySpace ? "power" : "space"));
        }

        var network = FatTree.For(merged.Sum(s => s.Count * s.Type.NetworkPorts), site.SwitchPorts);
        var networkRacks = network.Switches == 0 ? 0 : ((network.Switches * site.SwitchRackUnits) + site.RackUnits - 1) / site.RackUnits;
        var rawTb = storageUsableTb * site.StorageOverhead;
        var serverKw = merged.Sum(s => s.Count * s.Type.PowerKw);
        var itKw = serverKw + (network.Switches * site.SwitchPowerKw) + (rawTb / 1000 * site.StorageKwPerPb);
        var facilityKw = itKw * site.Pue;
        var serverCapex = merged.Sum(s => s.Count * s.Type.Price);
        var networkCapex = network.Switches * site.SwitchPrice;
        var storageCapex = rawTb * site.StoragePricePerTb;
        return new Buildout
        {
            Servers = merged,
            ServerRacks = racks,
            NetworkRacks = networkRacks,
            Network = network,
            StorageUsableTb = storageUsableTb,
            StorageRawTb = rawTb,
            ItKw = itKw,
            FacilityKw = facilityKw,
            ServerCapex = serverCapex,
            NetworkCapex = networkCapex,
            StorageCapex = storageCapex,
            ElectricityPerYear = facilityKw * site.AveragePowerFraction * HoursPerYear * site.ElectricityPerKwh,
            MaintenancePerYear = (serverCapex + networkCapex + storageCapex) * site.MaintenanceFraction,
            DepreciationYears = site.DepreciationYears,
        };
    }

    public const double HoursPerYear = 8760;
}
