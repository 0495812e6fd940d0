using Aicc.Simulation.Planning;
using CsCheck;

namespace Aicc.Simulation.Tests.Planning;

public sealed class BuildoutTests
{
    [Theory]
    [InlineData(0, 64, 0, 0)]
    [InlineData(64, 64, 1, 0)]
    [InlineData(65, 64, 3, 2)]
    [InlineData(272, 64, 9, 5)]
    [InlineData(2048, 64, 64, 32)]
    public void FatTree_KnownSizes(int endpoints, int ports, int leaves, int spines)
    {
        var tree = FatTree.For(endpoints, ports);
        Assert.Equal(leaves, tree.Leaves);
        Assert.Equal(spines, tree.Spines);
        Assert.True(tree.FitsTwoTiers);
    }

    [Fact]
    public void FatTree_BeyondHalfTheRadixSquared_NeedsAThirdTier() =>
        Assert.False(FatTree.For(2049, 64).FitsTwoTiers);

    [Fact]
    public void FatTree_AnySize_IsNonBlockingAndHasRoomForEveryEndpoint()
    {
        Gen.Select(Gen.Int[1, 100_000], Gen.Int[1, 64], (e, half) => (Endpoints: e, Ports: 2 * half)).Sample(x =>
        {
            var (endpoints, k) = x;
            var tree = FatTree.For(endpoints, k);
            if (tree.Spines == 0)
            {
                return tree.Leaves == 1 && endpoints <= k;
            }

            var down = tree.Leaves * (k / 2);
            return down >= endpoints && tree.Spines * k >= down && (tree.Leaves - 1) * (k / 2) < endpoints;
        });
    }

    [Fact]
    public void For_TwoTypes_RacksPowerMoneyFollowTheSite()
    {
        var catalog = PlanningFixtures.TwoTypes();
        var slow = catalog.Servers[0];
        var fast = catalog.Servers[1];
        var b = Buildout.For([new(slow, 7), new(fast, 3), new(slow, 0)], catalog.Site, storageUsableTb: 500);
        // 20 kW racks: 3 slow (6 kW) per rack by power (space allows 7); 2 fast (10 kW) per rack.
        Assert.Equal([new RackFill("fast", 2, 2, "power"), new RackFill("slow", 3, 3, "power")], b.ServerRacks);
        Assert.Equal(10, b.ServerTotal);
        Assert.Equal(80, b.Gpus);
        Assert.Equal((7 * 8) + (3 * 16), b.Scu, 9);
        // 80 ports on 8-port switches: 20 leaves, 10 spines, one rack of 30 U.
        Assert.Equal((20, 10), (b.Network.Leaves, b.Network.Spines));
        Assert.Equal(1, b.NetworkRacks);
        Assert.Equal(1000, b.StorageRawTb, 9);
        var it = (7 * 6) + (3 * 10) + 30 + (1000 / 1000.0 * 10);
        Assert.Equal(it, b.ItKw, 9);
        Assert.Equal(it * 1.5, b.FacilityKw, 9);
        var capex = (7 * 100_000) + (3 * 250_000) + (30 * 1000) + (1000 * 100.0);
        Assert.Equal(capex, b.Capex, 6);
        Assert.Equal((it * 1.5 * 8760 * 0.1) + (capex * 0.1), b.OpexPerYear, 6);
        Assert.Equal((capex / 4) + b.OpexPerYear, b.YearlyCost, 6);
    }
}
