using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Tests.Quotas;

/// <summary>
/// A reference model of hierarchical quota, written from the definitions rather than from
/// <see cref="QuotaTree"/>: a node's subtree quota is its nominal plus what its children lend
/// (child subtree minus the part a lending limit keeps back), a child's usage counts at its parent only
/// above its guaranteed part, a non-root node may use its subtree quota plus its borrowing limit and a
/// root its subtree quota. Tests compare the scheduler's tree against it.
/// </summary>
internal sealed class QuotaModel
{
    private readonly AcceleratorCatalog _catalog;
    private readonly List<Node> _nodes = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public QuotaModel(AcceleratorCatalog catalog, IEnumerable<CohortSpec> cohorts, IEnumerable<QueueSpec> queues)
    {
        _catalog = catalog;
        Resources = ResourceNames.FirstAccelerator + catalog.Count;
        foreach (var cohort in cohorts)
        {
            Add(cohort.Name, isCohort: true, cohort.Parent, cohort.Quotas);
        }

        foreach (var queue in queues)
        {
            Add(queue.Name, isCohort: false, queue.Cohort, queue.Quotas);
        }

        foreach (var node in _nodes)
        {
            node.Parent = node.ParentName is null ? -1 : _index[node.ParentName];
        }

        for (var i = 0; i < _nodes.Count; i++)
        {
            if (_nodes[i].Parent >= 0)
            {
                _nodes[_nodes[i].Parent].Children.Add(i);
            }
        }
    }

    public int Resources { get; }

    public IEnumerable<string> Names => _nodes.Select(n => n.Name);

    public bool IsCohort(string name) => _nodes[_index[name]].IsCohort;

    private sealed class Node(string name, bool isCohort, string? parent, IReadOnlyDictionary<string, ResourceQuota> quotas)
    {
        public readonly string Name = name;
        public readonly bool IsCohort = isCohort;
        public readonly string? ParentName = parent;
        public IReadOnlyDictionary<string, ResourceQuota> Quotas = quotas;
        public int Parent = -1;
        public readonly List<int> Children = [];
    }

    private void Add(string name, bool isCohort, string? parent, IReadOnlyDictionary<string, ResourceQuota> quotas)
    {
        _index[name] = _nodes.Count;
        _nodes.Add(new Node(name, isCohort, parent, quotas));
    }

    public void SetQuotas(string name, IReadOnlyDictionary<string, ResourceQuota> quotas) => _nodes[_index[name]].Quotas = quotas;

    private ResourceQuota? QuotaOf(int node, int r)
    {
        foreach (var (key, quota) in _nodes[node].Quotas)
        {
            if (ResourceNames.IndexOf(key, _catalog) == r)
            {
                return quota;
            }
        }

        return null;
    }

    private int RootOf(int node)
    {
        while (_nodes[node].Parent >= 0)
        {
            node = _nodes[node].Parent;
        }

        return node;
    }

    /// <summary>Whether quota limits a resource in the node's tree: declared by some node of the tree, or an
    /// accelerator model in a tree that declares any model.</summary>
    public bool Constrained(string name, int r) => Constrained(RootOf(_index[name]), r, out _);

    private bool Constrained(int root, int r, out bool anyModel)
    {
        var declared = false;
        anyModel = false;
        for (var i = 0; i < _nodes.Count; i++)
        {
            if (RootOf(i) != root)
            {
                continue;
            }

            for (var x = 0; x < Resources; x++)
            {
                if (QuotaOf(i, x) is not null)
                {
                    declared |= x == r;
                    anyModel |= x >= ResourceNames.FirstAccelerator;
                }
            }
        }

        return declared || (r >= ResourceNames.FirstAccelerator && anyModel);
    }

    /// <summary>The state of every node for one resource, given each queue's raw usage.</summary>
    public Evaluation Evaluate(int r, IReadOnlyDictionary<string, long> queueUsage)
    {
        var n = _nodes.Count;
        var e = new Evaluation(n);
        for (var i = 0; i < n; i++)
        {
            if (_nodes[i].Parent < 0)
            {
                var constrained = Constrained(i, r, out _);
                Fill(i, i, r, queueUsage, e, constrained);
            }
        }

        return e;
    }

    private void Fill(int root, int i, int r, IReadOnlyDictionary<string, long> queueUsage, Evaluation e, bool constrained)
    {
        var node = _nodes[i];
        var quota = QuotaOf(i, r);
        e.Constrained[i] = constrained;
        e.Nominal[i] = quota?.Nominal ?? 0;
        e.Subtree[i] = e.Nominal[i];
        e.Usage[i] = node.IsCohort ? 0 : queueUsage.GetValueOrDefault(node.Name);
        e.Raw[i] = e.Usage[i];
        e.TreeNominal[i] = e.Nominal[i];
        foreach (var c in node.Children)
        {
            Fill(root, c, r, queueUsage, e, constrained);
            e.Subtree[i] += e.Subtree[c] - e.Guaranteed[c];
            e.Usage[i] += Math.Max(0, e.Usage[c] - e.Guaranteed[c]);
            e.Raw[i] += e.Raw[c];
            e.TreeNominal[i] += e.TreeNominal[c];
        }

        e.Guaranteed[i] = quota?.LendingLimit is { } lend ? Math.Max(0, e.Subtree[i] - lend) : 0;
        e.Limit[i] = !constrained ? null
            : node.Parent < 0 ? e.Subtree[i]
            : quota?.BorrowingLimit is { } borrow ? e.Subtree[i] + borrow
            : null;
        e.IsRoot[i] = node.Parent < 0;
        e.Names[i] = node.Name;
        e.Root[i] = root;
    }

    /// <summary>One resource across the tree: subtree and guaranteed quota, usage as each parent sees it,
    /// raw usage under each node, and each node's limit (null = none).</summary>
    public sealed class Evaluation(int n)
    {
        public readonly string[] Names = new string[n];
        public readonly bool[] Constrained = new bool[n];
        public readonly bool[] IsRoot = new bool[n];
        public readonly long[] Nominal = new long[n];
        public readonly long[] Subtree = new long[n];
        public readonly long[] Guaranteed = new long[n];
        public readonly long[] Usage = new long[n];
        public readonly long[] Raw = new long[n];
        public readonly long[] TreeNominal = new long[n];
        public readonly long?[] Limit = new long?[n];
        public readonly int[] Root = new int[n];

        public int IndexOf(string name) => Array.IndexOf(Names, name);

        public bool Over(int i) => Limit[i] is { } limit && Usage[i] > limit;

        /// <summary>
        /// What a root's tree has promised: its raw usage plus, for every node below the root, the guaranteed
        /// quota it keeps and does not use. Lending holds when this is at most the tree's total nominal: then no
        /// node's unused guarantee is in use by another. It is a sum over the whole tree, not one node at a
        /// time, because a quota decrease can over-commit a tree, and then a queue may still use its own
        /// guarantee (which leaves this sum unchanged) but nobody may borrow (which raises it).
        /// </summary>
        public long Committed(int root)
        {
            var committed = Raw[root];
            for (var k = 0; k < Names.Length; k++)
            {
                if (Root[k] == root && k != root)
                {
                    committed += Math.Max(0, Guaranteed[k] - Usage[k]);
                }
            }

            return committed;
        }

        /// <summary>Whether lending holds in the root's tree after a cycle (see <see cref="Committed"/>), or was
        /// already broken before it (a quota decrease) and the cycle did not add to it: null. Otherwise why not.
        /// Without a state before the cycle nothing is excused.</summary>
        public string? LendingProblem(int root, Evaluation? before)
        {
            var committed = Committed(root);
            if (committed <= TreeNominal[root])
            {
                return null;
            }

            var committedBefore = before?.Committed(root);
            if (committedBefore > before?.TreeNominal[root] && committed <= committedBefore)
            {
                return null;
            }

            var kept = Enumerable.Range(0, Names.Length)
                .Where(k => Root[k] == root && k != root && Guaranteed[k] > Usage[k])
                .Select(k => $"{Names[k]} keeps {Guaranteed[k]}, uses {Usage[k]}");
            return $"tree {Names[root]} uses {Raw[root]} of {TreeNominal[root]} while its nodes keep unused guarantees ({string.Join("; ", kept)}); committed {committed}, before the cycle {committedBefore?.ToString() ?? "unknown"}";
        }
    }

    /// <summary>Whether adding <paramref name="demand"/> of resource <paramref name="r"/> to a queue keeps every
    /// node whose usage changes within its limit.</summary>
    public bool FitsAdding(string queue, int r, long demand, IReadOnlyDictionary<string, long> queueUsage)
    {
        if (demand == 0 || !Constrained(queue, r))
        {
            return true;
        }

        var before = Evaluate(r, queueUsage);
        var more = new Dictionary<string, long>(queueUsage) { [queue] = queueUsage.GetValueOrDefault(queue) + demand };
        var after = Evaluate(r, more);
        for (var i = 0; i < after.Names.Length; i++)
        {
            if (after.Usage[i] != before.Usage[i] && after.Over(i))
            {
                return false;
            }
        }

        return true;
    }
}
