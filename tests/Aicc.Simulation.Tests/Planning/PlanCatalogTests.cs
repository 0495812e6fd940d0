using Aicc.Simulation.Planning;

namespace Aicc.Simulation.Tests.Planning;

public sealed class PlanCatalogTests
{
    [Fact]
    public void Default_HasTheCommonEightGpuServers()
    {
        var catalog = PlanCatalog.Default();
        Assert.Equal(["8xH100-SXM", "8xH200", "8xA100-80GB", "8xL40S", "8xMI300X"], catalog.Servers.Select(s => s.Name));
        Assert.All(catalog.Servers, s => Assert.Equal(8, s.Accelerators));
        Assert.Equal(1.0, catalog.ScuOf("A100"));
    }

    [Fact]
    public void Parse_OverBaseline_ReplacesNamedKeysAndServersAndKeepsTheRest()
    {
        var baseline = PlanCatalog.Default();
        var catalog = PlanCatalog.Parse("o.yaml", """
            site:
              pue: 1.1
            servers:
              - {name: 8xA100-80GB, accelerator: A100, accelerators: 8, scu: 1, price: 1, power_kw: 6.5, rack_units: 6}
              - {name: 4xT4, accelerator: T4, accelerators: 4, scu: 0.25, price: 20000, power_kw: 1.2, rack_units: 2}
            """, baseline);
        Assert.Equal(1.1, catalog.Site.Pue);
        Assert.Equal(baseline.Site.RackPowerKw, catalog.Site.RackPowerKw);
        Assert.Equal(6, catalog.Servers.Count);
        Assert.Equal(1, catalog.Servers.Single(s => s.Name == "8xA100-80GB").Price);
        Assert.Equal(4, catalog.Servers.Single(s => s.Name == "4xT4").NetworkPorts);
    }

    [Fact]
    public void Parse_ReplaceServers_DropsTheDefaultTypes()
    {
        var catalog = PlanCatalog.Parse("o.yaml", """
            replace_servers: true
            servers:
              - {name: only, accelerator: A100, accelerators: 8, scu: 1, price: 1, power_kw: 6.5, rack_units: 6}
            """, PlanCatalog.Default());
        Assert.Equal("only", Assert.Single(catalog.Servers).Name);
    }

    [Fact]
    public void Parse_Malformed_ReportsEveryProblemWithFileLineAndField()
    {
        var e = Assert.Throws<PlanInputException>(() => PlanCatalog.Parse("bad.yaml", """
            site:
              pue: 0.5
              switch_ports: 63
              colour: blue
            servers:
              - name: a
                accelerator: A100
                accelerators: 8
                scu: 1
                price: abc
                power_kw: 6
                rack_units: 6
              - name: hot
                accelerator: H100
                accelerators: 8
                scu: 2
                price: 1
                power_kw: 90
                rack_units: 8
            """, PlanCatalog.Default()));
        var shown = e.Problems.Select(p => p.ToString()).ToList();
        Assert.Contains("bad.yaml:2: site.pue: 0.5 is out of range 1..5", shown);
        Assert.Contains(shown, s => s.StartsWith("bad.yaml:3: site.switch_ports: 63 is odd", StringComparison.Ordinal));
        Assert.Contains(shown, s => s.StartsWith("bad.yaml:4: site.colour: unknown key", StringComparison.Ordinal));
        Assert.Contains("bad.yaml:10: servers[0].price: 'abc' is not a number", shown);
        Assert.Contains(shown, s => s.StartsWith("bad.yaml:18: servers[1].power_kw: 90 kW exceeds the rack power limit", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_NotYaml_NamesTheLine()
    {
        var e = Assert.Throws<PlanInputException>(() => PlanCatalog.Parse("x.yaml", "servers: [1,\n", null));
        var p = Assert.Single(e.Problems);
        Assert.Equal("yaml", p.Field);
        Assert.Equal(2, p.Line);
    }
}
