using System.Diagnostics;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Plugins.TopologyPacking;
using Aicc.Scheduling.Queueing;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Validation;

namespace Aicc.Scheduling.Framework;

/// <summary>The cluster, queues and policy a <see cref="Scheduler"/> starts from.</summary>
public sealed record SchedulerSetup
{
    public required AcceleratorCatalog Catalog { get; init; }

    public required IReadOnlyList<NodeSpec> Nodes { get; init; }

    public IReadOnlyList<QueueSpec> Queues { get; init; } = [];

    public IReadOnlyList<CohortSpec> Cohorts { get; init; } = [];

    public PolicySpec Policy { get; init; } = PluginRegistry.Default;

    public ulong Seed { get; init; } = 42;

    /// <summary>Learn FGD's target workload from submitted pods when none is given.</summary>
    public bool LearnTargetWorkload { get; init; } = true;

    /// <summary>At most this many eviction candidates are tried for one preemptor.</summary>
    public int MaxPreemptionCandidates { get; init; } = 256;

    /// <summary>
    /// Opt-in cycle optimisation for long queues (the simulator turns it on): when nothing has freed
    /// capacity or quota since the last cycle (no finish, eviction, uncordon or quota change) and the
    /// policy can neither preempt nor backfill, a cycle considers only the workloads that entered their
    /// queue since the last one. The others failed on a state that has only grown fuller since, so they
    /// would fail again; they keep their reason and are not repeated in <see cref="CycleResult.Waiting"/>.
    /// StrictFIFO queues are always considered in full.
    /// </summary>
    public bool SkipUnchangedWaiting { get; init; }
}

/// <summary>
/// The scheduling core: it owns the allocation state, the quota tree and the queues, and decides in
/// <see cref="RunCycle"/>. Pure and deterministic: no I/O, no clock (time is an argument), seeded
/// randomness. Same setup + same operations + same seed ⇒ same decisions.
/// The cycle, per pending workload in queue-sort order:
/// 1. sort — heads of all queues by the policy's queue sort (priority/FIFO or fair share);
/// 2. admit — quota: which accelerator models the queue may still use, and how many pods of an elastic set;
/// 3. filter + score — per pod, by the <see cref="Placer"/>;
/// 4. reserve — all pods of the gang or none (elastic sets down to their minimum);
/// 5. preempt — if 2–4 failed, the smallest set of allowed victims that makes room.
/// </summary>
public sealed partial class Scheduler
{
    private readonly List<WorkloadState?> _byHandle = [];
    private readonly Dictionary<string, WorkloadState> _workloads = new(StringComparer.Ordinal);
    private readonly SortedSet<WorkloadState>[] _pending;
    private readonly PendingOrder[] _order;

    // Per queue: how many waiting workloads have each smallest device demand (DeviceDemand), and those
    // demands in order, so that a cycle knows the least any waiter of the queue asks for.
    private readonly Dictionary<long, int>[] _demandCounts;
    private readonly SortedSet<long>[] _demands;
    private readonly SortedSet<WorkloadState>[] _admitted;
    private readonly double[][] _fairUsage;
    private readonly SchedulerSetup _setup;
    private DateTimeOffset? _lastFairUpdate;
    private readonly IQueueSortPlugin _queueSort;

    // The latest time a cycle ran: the eviction time for Evict/NodeDown, which take no clock (attained service).
    private DateTimeOffset _clock;

    // For SchedulerSetup.SkipUnchangedWaiting: whether anything freed room since the last cycle, and who is new.
    private bool _freed = true;
    private int _pendingWithoutDevices;
    private List<WorkloadState> _fresh = [];
    private long _sequence;

    public Scheduler(SchedulerSetup setup)
    {
        _setup = setup;
        Catalog = setup.Catalog;
        Cluster = new ClusterState(setup.Catalog, setup.Nodes);
        Quotas = QuotaTree.Build(setup.Catalog, setup.Queues, setup.Cohorts, out var problems);
        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid queues or cohorts: " + string.Join("; ", problems), nameof(setup));
        }

        var policyProblems = PluginRegistry.Validate(setup.Policy);
        if (policyProblems.Count > 0)
        {
            throw new ArgumentException("invalid policy: " + string.Join("; ", policyProblems), nameof(setup));
        }

        Policy = setup.Policy;
        Placer = new Placer(Cluster, Policy, new ScoringContext(setup.Seed));
        _queueSort = PluginRegistry.CreateQueueSort(Policy);
        var queueSlots = setup.Queues.Count + setup.Cohorts.Count;
        _pending = new SortedSet<WorkloadState>[queueSlots];
        _order = new PendingOrder[queueSlots];
        _demandCounts = new Dictionary<long, int>[queueSlots];
        _demands = new SortedSet<long>[queueSlots];
        _admitted = new SortedSet<WorkloadState>[queueSlots];
        _fairUsage = new double[queueSlots][];
        for (var i = 0; i < queueSlots; i++)
        {
            _pending[i] = new SortedSet<WorkloadState>(QueueOrder.Instance);
            _order[i] = new PendingOrder();
            _demandCounts[i] = [];
            _demands[i] = [];
            _admitted[i] = new SortedSet<WorkloadState>(QueueOrder.Instance);
            _fairUsage[i] = new double[ResourceNames.Count];
        }

        Validator = new WorkloadValidator(Catalog, Quotas, Cluster);
    }

    public AcceleratorCatalog Catalog { get; }

    public ClusterState Cluster { get; }

    public QuotaTree Quotas { get; }

    public PolicySpec Policy { get; }

    public Placer Placer { get; }

    public WorkloadValidator Validator { get; }

    public int PendingCount => _pending.Sum(p => p.Count);

    public int AdmittedCount => _admitted.Sum(p => p.Count);

    public WorkloadState? Get(string id) => _workloads.GetValueOrDefault(id);

    public IEnumerable<WorkloadState> Workloads => _workloads.Values;

    /// <summary>Validates and queues a workload. Returns every problem found; nothing is queued when there is any.</summary>
    public IReadOnlyList<ValidationProblem> Submit(WorkloadSpec spec)
    {
        if (spec is null)
        {
            return [new ValidationProblem("", "the workload is empty")];
        }

        var problems = Validator.Validate(spec);
        if (problems.Count > 0)
        {
            return problems;
        }

        if (_workloads.ContainsKey(spec.Id))
        {
            return [new ValidationProblem("id", $"a workload with id '{spec.Id}' already exists")];
        }

        var state = new WorkloadState(spec, Quotas.QueueIndex(spec.Queue), _sequence++, [.. spec.PodSets.Select(Validator.ModelMask)]);
        _workloads.Add(spec.Id, state);
        state.Handle = _byHandle.Count;
        _byHandle.Add(state);
        state.Phase = WorkloadPhase.Pending;
        state.Reason = "waiting: not yet considered by a scheduling cycle";
        EnterPending(state, spec.SubmittedAt);
        if (_setup.LearnTargetWorkload)
        {
            foreach (var (podSet, mask) in spec.PodSets.Zip(state.ModelMasks))
            {
                Placer.Context.Workload.Add(podSet.CpuMilli, podSet.Accelerator.Count, podSet.Accelerator.Milli, mask, podSet.Count);
            }
        }

        return [];
    }

    /// <summary>Loads a workload that is already running with the given placement (a server rebuilding its
    /// state after a restart). Returns problems instead of overcommitting.</summary>
    public IReadOnlyList<ValidationProblem> Restore(WorkloadSpec spec, IReadOnlyList<PodPlacement> pods, DateTimeOffset admittedAt)
    {
        var problems = Submit(spec);
        if (problems.Count > 0)
        {
            return problems;
        }

        var state = _workloads[spec.Id];
        foreach (var pod in pods)
        {
            var podSetIndex = spec.PodSets.ToList().FindIndex(p => p.Name == pod.PodSet);
            if (podSetIndex < 0 || !Cluster.TryGetNode(pod.Node, out var node) || pod.Devices.Any(d => d < 0 || d >= Cluster.DevicesOn(node)))
            {
                Rollback(state);
                Remove(state);
                return [new ValidationProblem("placement", $"pod {pod.PodSet}/{pod.Index} names an unknown pod set, node or device")];
            }

            var podSet = spec.PodSets[podSetIndex];
            var allocation = new PodAllocation(
                node,
                [.. pod.Devices.Select(d => Cluster.FirstDevice(node) + d)],
                pod.MilliPerDevice,
                podSet.CpuMilli,
                podSet.MemoryMiB,
                podSet.Accelerator.MemoryMiB);
            if (!Cluster.Allocate(allocation, state.Handle))
            {
                Rollback(state);
                Remove(state);
                return [new ValidationProblem("placement", $"pod {pod.PodSet}/{pod.Index} does not fit on node {pod.Node} as recorded")];
            }

            state.Allocations.Add((podSetIndex, pod.Index, allocation));
        }

        LeavePending(state);
        Charge(state);
        state.Phase = WorkloadPhase.Admitted;
        state.AdmittedAt = admittedAt;
        state.Reason = null;
        _admitted[state.QueueIndex].Add(state);
        return [];
    }

    /// <summary>Ends a workload (completed, failed or cancelled): frees its devices and quota.</summary>
    public bool Finish(string id)
    {
        if (!_workloads.TryGetValue(id, out var state))
        {
            return false;
        }

        if (state.Phase == WorkloadPhase.Admitted)
        {
            _freed = true;
            Release(state);
            _admitted[state.QueueIndex].Remove(state);
        }
        else
        {
            LeavePending(state);
        }

        Remove(state);
        return true;
    }

    /// <summary>Sends a running workload back to its queue (its node died, or an operator evicts it).</summary>
    public bool Evict(string id, string reason)
    {
        if (!_workloads.TryGetValue(id, out var state) || state.Phase != WorkloadPhase.Admitted)
        {
            return false;
        }

        Requeue(state, reason);
        return true;
    }

    /// <summary>Cordons or uncordons a node; a cordoned node keeps its pods but takes no new ones.</summary>
    public bool SetSchedulable(string node, bool schedulable)
    {
        if (!Cluster.TryGetNode(node, out var index))
        {
            return false;
        }

        Cluster.SetSchedulable(index, schedulable);
        _freed |= schedulable;
        return true;
    }

    /// <summary>A node is gone: it takes no pods and every workload with a pod on it returns to its queue.</summary>
    public IReadOnlyList<string> NodeDown(string node)
    {
        if (!Cluster.TryGetNode(node, out var index))
        {
            return [];
        }

        Cluster.SetSchedulable(index, false);
        var victims = _workloads.Values
            .Where(w => w.Phase == WorkloadPhase.Admitted && w.Allocations.Any(a => a.Allocation.Node == index))
            .OrderBy(w => w.Sequence)
            .ToList();
        foreach (var victim in victims)
        {
            Requeue(victim, $"node {node} went down");
        }

        return [.. victims.Select(v => v.Spec.Id)];
    }

    public IReadOnlyList<string> SetQuotas(string queueOrCohort, IReadOnlyDictionary<string, ResourceQuota> quotas)
    {
        _freed = true;
        return Quotas.SetQuotas(queueOrCohort, quotas);
    }

    private void Remove(WorkloadState state)
    {
        state.Phase = WorkloadPhase.Finished;
        _workloads.Remove(state.Spec.Id);
        _byHandle[state.Handle] = null;
    }

    /// <summary>Back to the queue; its resources are released here unless a what-if already did, in which
    /// case <paramref name="heldBeforeRelease"/> is what it held until then.</summary>
    private void Requeue(WorkloadState state, string reason, double? heldBeforeRelease = null)
    {
        // The run that ends now adds its devices × time to the attained service. A release recharges the
        // workload for what it still holds, nothing, so HeldDevices is 0 afterwards: take the count first.
        // Counted after the release, an evicted workload lost the run's service: under LAS it came back at
        // level 0, passed the jobs it had been evicted for and was evicted again (see docs/replay.md).
        _commits++;
        var held = heldBeforeRelease ?? state.HeldDevices;
        if (heldBeforeRelease is null)
        {
            Release(state);
        }

        _admitted[state.QueueIndex].Remove(state);
        NoteAttained(state, _clock, held);
        _freed = true;
        state.Phase = WorkloadPhase.Pending;
        state.AdmittedAt = null;
        state.Evictions++;
        state.Reason = $"requeued: {reason}";
        EnterPending(state, _clock);
    }

    /// <summary>Adds the service of the run that ends now, on <paramref name="held"/> devices, to the
    /// workload's attained service.</summary>
    private static void NoteAttained(WorkloadState state, DateTimeOffset now, double held)
    {
        if (state.AdmittedAt is { } at)
        {
            var seconds = Math.Max(0, (now - at).TotalSeconds);
            state.AttainedBeforeDeviceSeconds += held * seconds;
            state.RanBeforeSeconds += seconds;
        }
    }

    /// <summary>Devices the allocations hold (fractions count as their share), as <see cref="Charge"/> counts them.</summary>
    private static double DevicesIn(List<(int PodSet, int Index, PodAllocation Allocation)> allocations)
    {
        var devices = 0.0;
        foreach (var (_, _, allocation) in allocations)
        {
            devices += allocation.Devices.Length * allocation.MilliPerDevice / 1000.0;
        }

        return devices;
    }

    private void LeavePending(WorkloadState state)
    {
        if (!_pending[state.QueueIndex].Remove(state))
        {
            return;
        }

        _order[state.QueueIndex].Remove(state);
        if (!NeedsDevices(state))
        {
            _pendingWithoutDevices--;
            return;
        }

        var demand = DeviceDemand(state);
        var counts = _demandCounts[state.QueueIndex];
        if (--counts[demand] == 0)
        {
            counts.Remove(demand);
            _demands[state.QueueIndex].Remove(demand);
        }
    }

    /// <summary>The least accelerator share, milli-devices, that one pod set of the workload needs on a
    /// single model: any admission charges at least this much of some model's quota.</summary>
    private static long DeviceDemand(WorkloadState state)
    {
        var least = long.MaxValue;
        foreach (var p in state.Spec.PodSets)
        {
            if (!p.Accelerator.IsNone && p.RequiredCount > 0)
            {
                least = Math.Min(least, (long)p.RequiredCount * p.Accelerator.TotalMilli);
            }
        }

        return least;
    }

    private static bool NeedsDevices(WorkloadState state) => state.Spec.PodSets.Any(p => !p.Accelerator.IsNone && p.RequiredCount > 0);

    /// <summary>Keys the workload by the queue sort (fixed while it waits) and queues it.</summary>
    private void EnterPending(WorkloadState state, DateTimeOffset now)
    {
        state.SortKey = _queueSort.Key(state, now);
        _pending[state.QueueIndex].Add(state);
        _order[state.QueueIndex].Add(state);
        if (!NeedsDevices(state))
        {
            _pendingWithoutDevices++;
        }
        else
        {
            var demand = DeviceDemand(state);
            var counts = _demandCounts[state.QueueIndex];
            counts[demand] = counts.GetValueOrDefault(demand) + 1;
            _demands[state.QueueIndex].Add(demand);
        }

        if (_setup.SkipUnchangedWaiting)
        {
            _fresh.Add(state);
        }
    }

    /// <summary>Frees the workload's devices and its quota charge.</summary>
    private void Release(WorkloadState state)
    {
        Rollback(state);
        Recharge(state);
    }

    private void Rollback(WorkloadState state)
    {
        foreach (var (_, _, allocation) in state.Allocations)
        {
            Cluster.Release(allocation);
        }

        state.Allocations.Clear();
    }

    /// <summary>Replaces the workload's charge with one for what it holds now.</summary>
    private void Recharge(WorkloadState state)
    {
        Span<long> negative = stackalloc long[ResourceNames.Count];
        for (var r = 0; r < negative.Length; r++)
        {
            negative[r] = -state.Charged[r];
        }

        Quotas.AddUsage(state.QueueIndex, negative);
        Charge(state);
    }

    /// <summary>Charges the quota for what the workload actually holds (nothing may be charged yet).</summary>
    private void Charge(WorkloadState state)
    {
        Array.Clear(state.Charged);
        state.HeldDevices = DevicesIn(state.Allocations);
        foreach (var (podSet, _, allocation) in state.Allocations)
        {
            state.Charged[ResourceNames.CpuIndex] += allocation.CpuMilli;
            state.Charged[ResourceNames.MemoryIndex] += allocation.MemoryMiB;
            foreach (var d in allocation.Devices)
            {
                var model = Cluster.ModelOf(d);
                state.Charged[ResourceNames.AcceleratorIndex(model)] += allocation.MilliPerDevice;
                state.Charged[ResourceNames.ScuIndex] += ScuOf(model, allocation.MilliPerDevice);
            }
        }

        Quotas.AddUsage(state.QueueIndex, state.Charged);
    }

    /// <summary>SCU of a share of one device, rounded up: what <see cref="Charge"/> books per device.</summary>
    private long ScuOf(int model, long milliDevices) => checked((milliDevices * Catalog[model].ScuMilli + 999) / 1000);

    /// <summary>SCU one pod is charged on a device of <paramref name="model"/>, rounded exactly as <see cref="Charge"/> rounds
    /// (per device), so that the admission check never admits what the charge then finds over quota.</summary>
    private long PodScu(int model, Model.AcceleratorRequest request) =>
        request.IsFraction ? ScuOf(model, request.Milli) : checked(request.Count * ScuOf(model, 1000));

    /// <summary>Priority first, then the queue sort's key, then FIFO by submission, then submission order.</summary>
    private sealed class QueueOrder : IComparer<WorkloadState>
    {
        public static readonly QueueOrder Instance = new();

        public int Compare(WorkloadState? x, WorkloadState? y) =>
            ReferenceEquals(x, y) ? 0 : PendingKey.Of(x!).CompareTo(PendingKey.Of(y!));
    }

    private static TimeSpan Since(long start) => Stopwatch.GetElapsedTime(start);
}
