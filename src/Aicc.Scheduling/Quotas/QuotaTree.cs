using Aicc.Scheduling.Model;

namespace Aicc.Scheduling.Quotas;

/// <summary>
/// Queues and cohorts as one tree per root, with nominal quota, borrowing and lending limits at every
/// level, and the usage admitted under each node. The arithmetic follows Kueue's hierarchical cohorts:
/// a node's <em>subtree quota</em> is its own nominal plus what each child lends to it
/// (child subtree quota minus what the child keeps guaranteed); a node's usage seen by its parent is
/// only what exceeds its guaranteed part. A resource that no node of a tree declares is not limited
/// by quota in that tree; once a tree declares one accelerator model, undeclared models have quota 0.
/// </summary>
public sealed class QuotaTree
{
    private const long Unlimited = -1;

    private readonly AcceleratorCatalog _catalog;
    private readonly List<Entry> _entries = [];
    private readonly Dictionary<string, int> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _cohorts = new(StringComparer.Ordinal);

    private QuotaTree(AcceleratorCatalog catalog) => _catalog = catalog;

    private sealed class Entry(string name, bool isCohort)
    {
        public readonly string Name = name;
        public readonly bool IsCohort = isCohort;
        public int Parent = -1;
        public int Root;
        public readonly long[] Nominal = new long[ResourceNames.Count];
        public readonly long[] Borrowing = NewUnlimited();
        public readonly long[] Lending = NewUnlimited();
        public readonly long[] Subtree = new long[ResourceNames.Count];
        public readonly long[] Guaranteed = new long[ResourceNames.Count];
        public readonly long[] Usage = new long[ResourceNames.Count];
        public readonly bool[] Declared = new bool[ResourceNames.Count];
        public readonly bool[] Constrained = new bool[ResourceNames.Count];
        public readonly List<int> Children = [];
        public QueueSpec? Queue;

        private static long[] NewUnlimited()
        {
            var values = new long[ResourceNames.Count];
            Array.Fill(values, Unlimited);
            return values;
        }
    }

    /// <summary>Builds the tree; returns every problem found (unknown parent, cycle, unknown resource,
    /// negative quota) instead of throwing.</summary>
    public static QuotaTree Build(AcceleratorCatalog catalog, IEnumerable<QueueSpec> queues, IEnumerable<CohortSpec> cohorts, out IReadOnlyList<string> problems)
    {
        var tree = new QuotaTree(catalog);
        var errors = new List<string>();
        var cohortList = cohorts.ToList();
        foreach (var cohort in cohortList)
        {
            if (tree._cohorts.ContainsKey(cohort.Name))
            {
                errors.Add($"cohort '{cohort.Name}' is declared twice");
                continue;
            }

            tree._cohorts[cohort.Name] = tree.AddEntry(cohort.Name, isCohort: true, cohort.Quotas, errors);
        }

        foreach (var cohort in cohortList)
        {
            if (cohort.Parent is null || !tree._cohorts.TryGetValue(cohort.Name, out var index))
            {
                continue;
            }

            if (!tree._cohorts.TryGetValue(cohort.Parent, out var parent))
            {
                errors.Add($"cohort '{cohort.Name}' names parent '{cohort.Parent}', which is not a cohort");
                continue;
            }

            tree._entries[index].Parent = parent;
        }

        foreach (var queue in queues)
        {
            if (tree._queues.ContainsKey(queue.Name))
            {
                errors.Add($"queue '{queue.Name}' is declared twice");
                continue;
            }

            var index = tree.AddEntry(queue.Name, isCohort: false, queue.Quotas, errors);
            tree._entries[index].Queue = queue;
            tree._queues[queue.Name] = index;
            if (queue.Cohort is not null)
            {
                if (tree._cohorts.TryGetValue(queue.Cohort, out var parent))
                {
                    tree._entries[index].Parent = parent;
                }
                else
                {
                    errors.Add($"queue '{queue.Name}' names cohort '{queue.Cohort}', which does not exist");
                }
            }
        }

        tree.LinkAndCompute(errors);
        problems = errors;
        return tree;
    }

    private int AddEntry(string name, bool isCohort, IReadOnlyDictionary<string, ResourceQuota> quotas, List<string> errors)
    {
        var entry = new Entry(name, isCohort);
        FillQuotas(entry, quotas, errors);
        _entries.Add(entry);
        return _entries.Count - 1;
    }

    private void FillQuotas(Entry entry, IReadOnlyDictionary<string, ResourceQuota> quotas, List<string> errors)
    {
        var what = entry.IsCohort ? "cohort" : "queue";
        foreach (var (key, quota) in quotas)
        {
            var r = ResourceNames.IndexOf(key, _catalog);
            if (r < 0)
            {
                errors.Add($"{what} '{entry.Name}': unknown resource '{key}' (use cpu, memory, scu or accelerator/<model>)");
                continue;
            }

            if (quota.Nominal < 0 || quota.BorrowingLimit < 0 || quota.LendingLimit < 0)
            {
                errors.Add($"{what} '{entry.Name}': quota of '{key}' must not be negative");
                continue;
            }

            entry.Nominal[r] = quota.Nominal;
            entry.Borrowing[r] = quota.BorrowingLimit ?? Unlimited;
            entry.Lending[r] = quota.LendingLimit ?? Unlimited;
            entry.Declared[r] = true;
        }
    }

    private void LinkAndCompute(List<string> errors)
    {
        foreach (var entry in _entries)
        {
            entry.Children.Clear();
        }

        for (var i = 0; i < _entries.Count; i++)
        {
            // Walk up to find the root and break cycles (a cycle would make every sum infinite).
            var seen = new HashSet<int> { i };
            var at = i;
            while (_entries[at].Parent >= 0)
            {
                var parent = _entries[at].Parent;
                if (!seen.Add(parent))
                {
                    errors.Add($"cohort '{_entries[parent].Name}' is its own ancestor");
                    _entries[at].Parent = -1;
                    break;
                }

                at = parent;
            }

            _entries[i].Root = at;
        }

        for (var i = 0; i < _entries.Count; i++)
        {
            if (_entries[i].Parent >= 0)
            {
                _entries[_entries[i].Parent].Children.Add(i);
            }
        }

        var constrainedByRoot = new Dictionary<int, bool[]>();
        foreach (var entry in _entries)
        {
            if (!constrainedByRoot.TryGetValue(entry.Root, out var flags))
            {
                flags = new bool[ResourceNames.Count];
                constrainedByRoot[entry.Root] = flags;
            }

            for (var r = 0; r < ResourceNames.Count; r++)
            {
                flags[r] |= entry.Declared[r];
            }
        }

        foreach (var flags in constrainedByRoot.Values)
        {
            var anyModel = false;
            for (var r = ResourceNames.FirstAccelerator; r < ResourceNames.Count; r++)
            {
                anyModel |= flags[r];
            }

            if (anyModel)
            {
                Array.Fill(flags, true, ResourceNames.FirstAccelerator, ResourceNames.Count - ResourceNames.FirstAccelerator);
            }
        }

        foreach (var entry in _entries)
        {
            Array.Copy(constrainedByRoot[entry.Root], entry.Constrained, ResourceNames.Count);
        }

        for (var i = 0; i < _entries.Count; i++)
        {
            if (_entries[i].Parent < 0)
            {
                ComputeSubtree(i);
            }
        }

        RecomputeUsageAbove();
    }

    private void ComputeSubtree(int index)
    {
        var entry = _entries[index];
        Array.Copy(entry.Nominal, entry.Subtree, ResourceNames.Count);
        foreach (var child in entry.Children)
        {
            ComputeSubtree(child);
            var c = _entries[child];
            for (var r = 0; r < ResourceNames.Count; r++)
            {
                entry.Subtree[r] += c.Subtree[r] - c.Guaranteed[r];
            }
        }

        for (var r = 0; r < ResourceNames.Count; r++)
        {
            entry.Guaranteed[r] = entry.Lending[r] == Unlimited ? 0 : Math.Max(0, entry.Subtree[r] - entry.Lending[r]);
        }
    }

    /// <summary>Rebuilds cohort usage from the queues' usage (after a structural change).</summary>
    private void RecomputeUsageAbove()
    {
        foreach (var entry in _entries)
        {
            if (entry.IsCohort)
            {
                Array.Clear(entry.Usage);
            }
        }

        for (var i = 0; i < _entries.Count; i++)
        {
            var entry = _entries[i];
            if (entry.IsCohort || entry.Parent < 0)
            {
                continue;
            }

            for (var r = 0; r < ResourceNames.Count; r++)
            {
                PropagateUp(i, r, 0, entry.Usage[r]);
            }
        }
    }

    public bool HasQueue(string name) => _queues.ContainsKey(name);

    public IEnumerable<string> QueueNames => _queues.Keys;

    public IEnumerable<string> CohortNames => _cohorts.Keys;

    public QueueSpec GetQueue(string name) => _entries[_queues[name]].Queue!;

    internal int QueueIndex(string name) => _queues.TryGetValue(name, out var i) ? i : -1;

    internal QueueSpec QueueAt(int index) => _entries[index].Queue!;

    internal string NameAt(int index) => _entries[index].Name;

    internal int ParentOf(int index) => _entries[index].Parent;

    internal int RootOf(int index) => _entries[index].Root;

    internal bool IsConstrained(int index, int resource) => _entries[index].Constrained[resource];

    /// <summary>Whether any queue belongs to a cohort (else nothing can be borrowed, so nothing reclaimed). O(queues).</summary>
    internal bool AnyQueueInCohort()
    {
        foreach (var entry in _entries)
        {
            if (!entry.IsCohort && entry.Parent >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether quota limits any resource at this queue (false: admission never blocks it).</summary>
    internal bool IsConstrainedAny(int index) => Array.IndexOf(_entries[index].Constrained, true) >= 0;

    public long Usage(string queueOrCohort, int resource) => _entries[Find(queueOrCohort)].Usage[resource];

    public long Nominal(string queueOrCohort, int resource) => _entries[Find(queueOrCohort)].Nominal[resource];

    internal long NominalAt(int index, int resource) => _entries[index].Nominal[resource];

    internal long UsageAt(int index, int resource) => _entries[index].Usage[resource];

    private int Find(string name) =>
        _queues.TryGetValue(name, out var q) ? q :
        _cohorts.TryGetValue(name, out var c) ? c :
        throw new KeyNotFoundException($"no queue or cohort named '{name}'");

    /// <summary>
    /// How much of <paramref name="resource"/> a workload of this queue may still take: what is left of
    /// its guaranteed quota plus what its ancestors can lend, capped by each borrowing limit on the way.
    /// <see cref="long.MaxValue"/> when the resource is not limited in this tree.
    /// </summary>
    internal long Available(int index, int resource)
    {
        var entry = _entries[index];
        if (!entry.Constrained[resource])
        {
            return long.MaxValue;
        }

        if (entry.Parent < 0)
        {
            // A quota decrease can leave a root over its quota; nothing is available then, never less.
            return Math.Max(0, entry.Subtree[resource] - entry.Usage[resource]);
        }

        var local = Math.Max(0, entry.Guaranteed[resource] - entry.Usage[resource]);
        var fromParent = Available(entry.Parent, resource);
        if (entry.Borrowing[resource] != Unlimited)
        {
            var storedInParent = entry.Subtree[resource] - entry.Guaranteed[resource];
            var usedInParent = Math.Max(0, entry.Usage[resource] - entry.Guaranteed[resource]);
            fromParent = Math.Min(fromParent, storedInParent - usedInParent + entry.Borrowing[resource]);
        }

        return local + Math.Max(0, fromParent);
    }

    /// <summary>Charges (or with a negative delta releases) usage to a queue and its ancestors.</summary>
    internal void AddUsage(int queueIndex, ReadOnlySpan<long> delta)
    {
        for (var r = 0; r < delta.Length; r++)
        {
            if (delta[r] != 0)
            {
                var entry = _entries[queueIndex];
                var before = entry.Usage[r];
                entry.Usage[r] += delta[r];
                if (entry.Parent >= 0)
                {
                    PropagateUp(queueIndex, r, before, entry.Usage[r]);
                }
            }
        }
    }

    private void PropagateUp(int index, int resource, long before, long after)
    {
        var entry = _entries[index];
        var parentIndex = entry.Parent;
        while (parentIndex >= 0)
        {
            var g = entry.Guaranteed[resource];
            var delta = Math.Max(0, after - g) - Math.Max(0, before - g);
            if (delta == 0)
            {
                return;
            }

            var parent = _entries[parentIndex];
            before = parent.Usage[resource];
            parent.Usage[resource] += delta;
            after = parent.Usage[resource];
            entry = parent;
            parentIndex = parent.Parent;
        }
    }

    /// <summary>Replaces a queue's or cohort's quotas (an operator's change). Usage is kept; a node left
    /// over its new limit admits nothing more until usage falls.</summary>
    public IReadOnlyList<string> SetQuotas(string queueOrCohort, IReadOnlyDictionary<string, ResourceQuota> quotas)
    {
        var errors = new List<string>();
        var index = _queues.TryGetValue(queueOrCohort, out var q) ? q : _cohorts.TryGetValue(queueOrCohort, out var c) ? c : -1;
        if (index < 0)
        {
            return [$"no queue or cohort named '{queueOrCohort}'"];
        }

        var entry = _entries[index];
        var probe = new Entry(entry.Name, entry.IsCohort);
        FillQuotas(probe, quotas, errors);
        if (errors.Count > 0)
        {
            return errors;
        }

        Array.Copy(probe.Nominal, entry.Nominal, ResourceNames.Count);
        Array.Copy(probe.Borrowing, entry.Borrowing, ResourceNames.Count);
        Array.Copy(probe.Lending, entry.Lending, ResourceNames.Count);
        Array.Copy(probe.Declared, entry.Declared, ResourceNames.Count);
        if (entry.Queue is not null)
        {
            entry.Queue = entry.Queue with { Quotas = quotas };
        }

        LinkAndCompute(errors);
        return errors;
    }

    /// <summary>
    /// Every quota limit that usage exceeds, as readable lines ("queue a: accelerator/A100 usage 17000 >
    /// limit 16000"). Empty when all limits hold: each non-root node within its subtree quota plus its
    /// borrowing limit, each root within its subtree quota (which enforces lending limits, since only
    /// lendable quota is counted above a node).
    /// </summary>
    public IReadOnlyList<string> Violations() =>
        [.. ViolationDetails().Select(v =>
            $"{(_entries[v.Entry].IsCohort ? "cohort" : "queue")} {_entries[v.Entry].Name}: {ResourceNames.NameOf(v.Resource, _catalog)} usage {v.Usage} > limit {v.Limit}")];

    /// <summary>The same as <see cref="Violations"/>, as (node, resource, usage, limit).</summary>
    internal IEnumerable<(int Entry, int Resource, long Usage, long Limit)> ViolationDetails()
    {
        for (var i = 0; i < _entries.Count; i++)
        {
            var entry = _entries[i];
            for (var r = 0; r < ResourceNames.Count; r++)
            {
                if (!entry.Constrained[r])
                {
                    continue;
                }

                long limit;
                if (entry.Parent < 0)
                {
                    limit = entry.Subtree[r];
                }
                else if (entry.Borrowing[r] != Unlimited)
                {
                    limit = entry.Subtree[r] + entry.Borrowing[r];
                }
                else
                {
                    continue;
                }

                if (entry.Usage[r] > limit)
                {
                    yield return (i, r, entry.Usage[r], limit);
                }
            }
        }
    }

    /// <summary>Usage of every node and resource, for comparing states in tests.</summary>
    internal long[] UsageSnapshot()
    {
        var all = new long[_entries.Count * ResourceNames.Count];
        for (var i = 0; i < _entries.Count; i++)
        {
            Array.Copy(_entries[i].Usage, 0, all, i * ResourceNames.Count, ResourceNames.Count);
        }

        return all;
    }

    /// <summary>True when this queue (or an ancestor) uses more than its nominal quota of the resource,
    /// i.e. it is borrowing.</summary>
    internal bool IsBorrowing(int queueIndex, int resource)
    {
        for (var i = queueIndex; i >= 0; i = _entries[i].Parent)
        {
            var entry = _entries[i];
            if (entry.Constrained[resource] && entry.Usage[resource] > entry.Subtree[resource])
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when the queue borrows any resource it is constrained on (<see cref="IsBorrowing"/>).
    /// Only the catalog's models are looked at: an index past them names no model, so nothing can use
    /// it (usage 0) and nothing can borrow it. O(models × depth), not O(<see cref="ResourceNames.Count"/>
    /// × depth): this is asked for every waiting workload of a quota policy while the cluster is full.</summary>
    internal bool IsBorrowingAny(int queueIndex)
    {
        var constrained = _entries[queueIndex].Constrained;
        for (int r = 0, end = ResourceNames.FirstAccelerator + _catalog.Count; r < end; r++)
        {
            if (constrained[r] && IsBorrowing(queueIndex, r))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Guaranteed-or-nominal quota of the queue itself (its own nominal).</summary>
    internal long SubtreeAt(int index, int resource) => _entries[index].Subtree[resource];
}
