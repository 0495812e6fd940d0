using Aicc.Scheduling.Framework;
using Aicc.Simulation.Packing;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Tests.Packing;

public sealed class PackingReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static PackingInput Input()
    {
        var nodes = Enumerable.Range(0, 6).Select(i => new OpenbNode($"n{i}", 16_000, 64_000, 2, "T4")).ToList();
        var pods = Enumerable.Range(0, 30).Select(i => (i % 3) switch
        {
            0 => new OpenbPod($"p{i:00}", 2000, 4096, 1, 300 + (100 * (i % 5)), ""),
            1 => new OpenbPod($"p{i:00}", 4000, 8192, 1, 1000, ""),
            _ => new OpenbPod($"p{i:00}", 3000, 4096, 0, 0, ""),
        }).ToList();
        return PackingInput.Create("replay", nodes, pods);
    }

    private string Write(string text)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Run_ReplayOfTheSeedsOwnDraw_GivesTheSameCurveAsTheSeed()
    {
        var input = Input();
        var (order, ranks) = PackingSimulation.Draw(input, seed: 5, tune: 1.3);
        var lines = new List<string> { "# the seed's own draw, written out" };
        lines.AddRange(ranks.Select((rank, node) => $"node {rank} {input.Nodes[node].Name}"));
        lines.AddRange(order.Select((pod, k) => k < input.Pods.Count ? $"pod {input.Pods[pod].Name}" : $"pod {input.Pods[pod].Name}-tuned-{k}"));
        var problems = new List<string>();

        var replay = PackingReplay.Read(Write(string.Join('\n', lines)), input, problems);

        Assert.Empty(problems);
        var policy = PluginRegistry.Policies["gpupacking"];
        var drawn = PackingSimulation.Run(input, policy, 5, new PackingOptions());
        var replayed = PackingSimulation.Run(input, policy, 5, new PackingOptions { Replay = replay });
        Assert.Equal(drawn.AllocPct, replayed.AllocPct);
        Assert.Equal(drawn.Arrivals, replayed.Arrivals);
    }

    [Fact]
    public void Read_RanksAndPods_MapToTheListsIndices()
    {
        var input = Input();
        var first = new List<string>();
        var last = new List<string>();
        for (var node = 0; node < input.Nodes.Count; node++)
        {
            first.Add($"node {node} {input.Nodes[node].Name}");
            last.Add($"node {input.Nodes.Count - 1 - node} {input.Nodes[node].Name}");
        }

        var pods = "pod p02\npod p05\n";
        var problems = new List<string>();
        var inOrder = PackingReplay.Read(Write(string.Join('\n', first) + "\n" + pods), input, problems)!;
        var reversed = PackingReplay.Read(Write(string.Join('\n', last) + "\n" + pods), input, problems)!;

        Assert.Empty(problems);
        Assert.Equal([2, 5], inOrder.Order);
        Assert.Equal(Enumerable.Range(0, input.Nodes.Count), inOrder.Ranks);
        Assert.Equal(Enumerable.Range(0, input.Nodes.Count).Reverse(), reversed.Ranks);
    }

    [Fact]
    public void Read_BadLines_NamesEveryProblemWithItsLine()
    {
        var input = Input();
        var path = Write("node 0 n0\nnode 0 n1\nnode 1 n0\nnode x n2\nnode 7 nope\npod p00\npod q99\nfrobnicate\n");
        var problems = new List<string>();

        var replay = PackingReplay.Read(path, input, problems);

        Assert.Null(replay);
        Assert.Equal(
            [
                $"{path}: line 2: rank 0 is already held by node 'n0'",
                $"{path}: line 3: node 'n0' is ranked twice",
                $"{path}: line 4: rank 'x' must be a whole number from 0 to 5",
                $"{path}: line 5: node 'nope' is not in the node list",
                $"{path}: line 5: rank '7' must be a whole number from 0 to 5",
                $"{path}: line 7: pod 'q99' is not in the pod list",
                $"{path}: line 8: expected 'node RANK NAME' or 'pod NAME', found 'frobnicate'",
            ],
            problems);
    }

    [Fact]
    public void Read_NodesWithoutRank_SaysHowManyAndWhich()
    {
        var input = Input();
        var path = Write("node 0 n0\npod p00\n");
        var problems = new List<string>();

        Assert.Null(PackingReplay.Read(path, input, problems));
        Assert.Equal($"{path}: 5 of 6 nodes have no rank (first: 'n1')", Assert.Single(problems));
    }
}
