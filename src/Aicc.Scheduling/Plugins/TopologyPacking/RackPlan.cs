using Aicc.Scheduling.Framework;

namespace Aicc.Scheduling.Plugins.TopologyPacking;

/// <summary>
/// Chooses the racks a gang should occupy before its pods are placed, so that a multi-node job crosses
/// as few switches as possible. Capacity per rack is estimated as the number of pods of the gang's
/// largest pod set that each node could host; the plan is the single rack that holds the gang most
/// snugly, else the fewest racks of one network block, else the fewest racks overall. O(nodes) per gang.
/// </summary>
public static class RackPlan
{
    /// <summary>Candidate nodes in plan order, or null when no plan beats the plain search.</summary>
    public static int[]? Choose(ClusterState c, in PodRequest pod, int pods)
    {
        if (pods <= 1 || c.RackCount <= 1)
        {
            return null;
        }

        var perRack = new int[c.RackCount];
        for (var node = 0; node < c.NodeCount; node++)
        {
            if (NodeFilter.Fits(c, node, pod))
            {
                perRack[c.RackOf[node]] += PodsThatFit(c, node, pod);
            }
        }

        var snug = -1;
        for (var r = 0; r < perRack.Length; r++)
        {
            if (perRack[r] >= pods && (snug < 0 || perRack[r] < perRack[snug]))
            {
                snug = r;
            }
        }

        if (snug >= 0)
        {
            return c.NodesByRack[snug];
        }

        // Fewest racks: take racks by capacity, largest first, preferring one block that suffices.
        var racks = Enumerable.Range(0, perRack.Length).Where(r => perRack[r] > 0)
            .OrderByDescending(r => perRack[r]).ThenBy(r => r).ToArray();
        var blockOfRack = new int[c.RackCount];
        for (var node = 0; node < c.NodeCount; node++)
        {
            blockOfRack[c.RackOf[node]] = c.BlockOf[node];
        }

        foreach (var block in racks.Select(r => blockOfRack[r]).Distinct())
        {
            var inBlock = racks.Where(r => blockOfRack[r] == block).ToArray();
            if (inBlock.Sum(r => perRack[r]) >= pods)
            {
                return Take(c, inBlock, perRack, pods);
            }
        }

        return racks.Sum(r => perRack[r]) >= pods ? Take(c, racks, perRack, pods) : null;
    }

    private static int[] Take(ClusterState c, int[] racks, int[] perRack, int pods)
    {
        var nodes = new List<int>();
        var covered = 0;
        foreach (var r in racks)
        {
            nodes.AddRange(c.NodesByRack[r]);
            covered += perRack[r];
            if (covered >= pods)
            {
                break;
            }
        }

        return [.. nodes];
    }

    /// <summary>How many pods of this shape the node could take (0 when it cannot take one).</summary>
    internal static int PodsThatFit(ClusterState c, int node, in PodRequest pod)
    {
        var fit = int.MaxValue;
        if (pod.CpuMilli > 0)
        {
            fit = (int)Math.Min(fit, c.FreeCpu(node) / pod.CpuMilli);
        }

        if (pod.MemoryMiB > 0)
        {
            fit = (int)Math.Min(fit, c.FreeMemory(node) / pod.MemoryMiB);
        }

        if (pod.Count > 0)
        {
            fit = Math.Min(fit, c.FreeWhole[node] / pod.Count);
        }
        else if (pod.Milli > 0)
        {
            fit = Math.Min(fit, c.FreeMilliTotal[node] / pod.Milli);
        }

        return fit == int.MaxValue ? 1 : fit;
    }
}
