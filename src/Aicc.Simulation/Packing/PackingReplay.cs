using System.Globalization;

namespace Aicc.Simulation.Packing;

/// <summary>
/// An arrival order and node ranks given from outside instead of drawn from the seed: to replay one run
/// of another simulator decision by decision (the FGD artifact draws its orders with Go's generator, which
/// we do not reproduce; docs/simulator.md says how to take them from its log). A text file of lines
/// <c>node RANK NAME</c> (every node of the node list once, ranks 0..n−1; ties go to the lowest rank) and
/// <c>pod NAME</c> in arrival order, where NAME is a pod of the list or the artifact's resampled copy
/// <c>NAME-tuned-K</c>; blank lines and lines starting with <c>#</c> are ignored.
/// </summary>
public sealed class PackingReplay
{
    private const string TunedMark = "-tuned-";
    private const int MaxReported = 50;

    private PackingReplay(int[] order, int[] ranks)
    {
        Order = order;
        Ranks = ranks;
    }

    /// <summary>Indices into <see cref="PackingInput.Pods"/>, in arrival order.</summary>
    public IReadOnlyList<int> Order { get; }

    /// <summary>The rank of each node of <see cref="PackingInput.Nodes"/>.</summary>
    public IReadOnlyList<int> Ranks { get; }

    /// <summary>Reads a replay file for <paramref name="input"/>; null with every problem (up to 50) in
    /// <paramref name="problems"/> when it does not fit the node and pod lists.</summary>
    public static PackingReplay? Read(string path, PackingInput input, List<string> problems)
    {
        if (!File.Exists(path))
        {
            problems.Add($"{path}: file not found");
            return null;
        }

        var pods = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < input.Pods.Count; i++)
        {
            pods[input.Pods[i].Name] = i;
        }

        var nodes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < input.Nodes.Count; i++)
        {
            nodes[input.Nodes[i].Name] = i;
        }

        var found = new List<string>();
        var order = new List<int>();
        var ranks = new int[input.Nodes.Count];
        Array.Fill(ranks, -1);
        var rankOwner = new string?[input.Nodes.Count];
        var number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var where = $"{path}: line {number}";
            switch (fields[0])
            {
                case "pod" when fields.Length == 2:
                    {
                        var name = fields[1];
                        var tuned = name.IndexOf(TunedMark, StringComparison.Ordinal);
                        var listed = tuned < 0 ? name : name[..tuned];
                        if (pods.TryGetValue(listed, out var index))
                        {
                            order.Add(index);
                        }
                        else
                        {
                            found.Add($"{where}: pod '{listed}' is not in the pod list");
                        }

                        break;
                    }

                case "node" when fields.Length == 3:
                    {
                        var known = nodes.TryGetValue(fields[2], out var node);
                        var numeric = int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var rank) && rank < ranks.Length;
                        if (!known)
                        {
                            found.Add($"{where}: node '{fields[2]}' is not in the node list");
                        }
                        else if (ranks[node] >= 0)
                        {
                            found.Add($"{where}: node '{fields[2]}' is ranked twice");
                        }

                        if (!numeric)
                        {
                            found.Add($"{where}: rank '{fields[1]}' must be a whole number from 0 to {ranks.Length - 1}");
                        }
                        else if (rankOwner[rank] is { } other)
                        {
                            found.Add($"{where}: rank {rank} is already held by node '{other}'");
                        }

                        if (known && numeric && ranks[node] < 0 && rankOwner[rank] is null)
                        {
                            ranks[node] = rank;
                            rankOwner[rank] = fields[2];
                        }

                        break;
                    }

                default:
                    found.Add($"{where}: expected 'node RANK NAME' or 'pod NAME', found '{line}'");
                    break;
            }
        }

        var unranked = Enumerable.Range(0, ranks.Length).Where(i => ranks[i] < 0).ToList();
        if (unranked.Count > 0 && found.Count == 0)
        {
            found.Add($"{path}: {unranked.Count} of {ranks.Length} nodes have no rank (first: '{input.Nodes[unranked[0]].Name}')");
        }

        if (order.Count == 0 && found.Count == 0)
        {
            found.Add($"{path}: no 'pod NAME' lines");
        }

        problems.AddRange(found.Take(MaxReported));
        if (found.Count > MaxReported)
        {
            problems.Add($"{path}: … and {found.Count - MaxReported} more problems");
        }

        return found.Count == 0 ? new PackingReplay([.. order], ranks) : null;
    }
}
