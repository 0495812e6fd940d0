using System.Text.Json;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Tests.Quotas;
using Aicc.Server.Api;
using Aicc.Server.Hosting;
using Aicc.Server.Inventory;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.Data.Sqlite;

namespace Aicc.Server.Tests.Prove;

/// <summary>An active workload as the database holds it.</summary>
internal sealed record WorkloadView(string Id, string TenantId, string Queue, string State, string? PlacementJson, int Attempt, bool CancelRequested);

/// <summary>
/// What the database says, and what follows from it alone: devices, CPU and memory held on each node
/// and the usage charged to each queue, recomputed from the placements and specs of the live workloads.
/// </summary>
internal sealed class DatabaseWorld
{
    public required List<NodeRow> Nodes { get; init; }

    public required Dictionary<string, List<DeviceRecord>> Devices { get; init; }

    public required List<QueueRow> Queues { get; init; }

    public required List<CohortRow> Cohorts { get; init; }

    public required List<WorkloadView> Active { get; init; }

    /// <summary>Live (Starting or Running) attempts, one entry each.</summary>
    public required List<(string WorkloadId, int Number)> LiveAttempts { get; init; }

    public Dictionary<string, long> NodeCpu { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> NodeMemory { get; } = new(StringComparer.Ordinal);

    /// <summary>Milli held per (node, device), whole holders and sharers.</summary>
    public Dictionary<(string Node, int Device), (int Milli, int Whole, int Sharers)> DeviceUse { get; } = [];

    /// <summary>Per resource index: raw usage by core queue name (tenant/queue).</summary>
    public Dictionary<string, long>[] QueueUsage { get; } = [.. Enumerable.Range(0, ResourceNames.Count).Select(_ => new Dictionary<string, long>(StringComparer.Ordinal))];

    public long AllocatedMilli { get; set; }

    /// <summary>Problems found while reading (a placement that names no known node or device, a pod of the wrong shape).</summary>
    public List<string> Problems { get; } = [];
}

/// <summary>
/// Reads the database after a cycle and checks the invariants of R2 (issue 6). Specs are immutable per
/// workload id, so their parsed form is cached; everything else is read again each time.
/// </summary>
internal sealed class DatabaseInvariants(AcceleratorCatalog catalog) : IDisposable
{
    private SqliteConnection? _connection;
    private readonly Dictionary<string, WorkloadSpec> _specs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DeviceRecord>> _devices = new(StringComparer.Ordinal);

    /// <summary>Cycles in which a node was over a limit only because a quota decrease put it there (allowed).</summary>
    public int OverLimitAfterDecrease { get; private set; }

    public WorkloadSpec Spec(string id) => _specs[id];

    /// <summary>
    /// Reads the database with plain SQL on a connection of its own (EF's per-query overhead was a third
    /// of R2's time). <paramref name="usageOnly"/> skips what a cycle does not change (queues, cohorts)
    /// and the attempts, for the state just before a cycle. Live attempts are looked up through the
    /// active workloads (an index); <paramref name="allAttempts"/> scans the whole attempts table instead,
    /// which also finds a live attempt of a finished workload.
    /// </summary>
    public async Task<DatabaseWorld> ReadAsync(TestServer server, bool usageOnly = false, bool allAttempts = false)
    {
        var path = server.Get<DataDirectory>().DatabasePath;
        if (_connection?.DataSource != path)
        {
            _connection?.Dispose();
            _connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
            await _connection.OpenAsync();
        }

        var nodes = await QueryAsync("SELECT Name, CpuMilli, MemoryMiB, DevicesJson, Cordoned, Draining FROM nodes ORDER BY Name", r => new NodeRow
        {
            Name = r.GetString(0),
            CpuMilli = r.GetInt64(1),
            MemoryMiB = r.GetInt64(2),
            DevicesJson = r.GetString(3),
            Cordoned = r.GetBoolean(4),
            Draining = r.GetBoolean(5),
        });
        var queues = usageOnly ? [] : await QueryAsync("SELECT TenantId, Name, Cohort, Strategy, QuotasJson, FairWeight FROM queues", r => new QueueRow
        {
            TenantId = r.GetString(0),
            Name = r.GetString(1),
            Cohort = r.IsDBNull(2) ? null : r.GetString(2),
            Strategy = r.GetString(3),
            QuotasJson = r.GetString(4),
            FairWeight = r.GetDouble(5),
        });
        var cohorts = usageOnly ? [] : await QueryAsync("SELECT Name, Parent, QuotasJson FROM cohorts", r => new CohortRow
        {
            Name = r.GetString(0),
            Parent = r.IsDBNull(1) ? null : r.GetString(1),
            QuotasJson = r.GetString(2),
        });
        var active = await QueryAsync(
            "SELECT Id, TenantId, Queue, State, PlacementJson, Attempt, CancelRequested FROM workloads WHERE State IN ('Pending', 'Admitted', 'Running') ORDER BY Seq",
            r => new WorkloadView(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetInt32(5), r.GetBoolean(6)));
        foreach (var w in active.Where(w => !_specs.ContainsKey(w.Id)))
        {
            var row = (await QueryAsync(
                "SELECT SpecJson, SubmittedAt FROM workloads WHERE Id = $id",
                r => (Json: r.GetString(0), Ticks: r.GetInt64(1)),
                ("$id", w.Id)))[0];
            _specs[w.Id] = JsonSerializer.Deserialize<JobSpec>(row.Json, JsonBody.Options)!.ToCore(w.Id, w.TenantId, new DateTimeOffset(row.Ticks, TimeSpan.Zero));
        }

        var live = usageOnly ? []
            : allAttempts ? await QueryAsync("SELECT WorkloadId, Number FROM attempts WHERE State IN ('Starting', 'Running')", r => (r.GetString(0), r.GetInt32(1)))
            : await QueryAsync(
                "SELECT a.WorkloadId, a.Number FROM workloads w JOIN attempts a ON a.WorkloadId = w.Id WHERE w.State IN ('Pending', 'Admitted', 'Running') AND a.State IN ('Starting', 'Running')",
                r => (r.GetString(0), r.GetInt32(1)));
        var world = new DatabaseWorld
        {
            Nodes = nodes,
            Devices = nodes.ToDictionary(n => n.Name, n => Devices(n.DevicesJson), StringComparer.Ordinal),
            Queues = queues,
            Cohorts = cohorts,
            Active = active,
            LiveAttempts = live,
        };
        Hold(world);
        return world;
    }

    public void Dispose() => _connection?.Dispose();

    private async Task<List<T>> QueryAsync<T>(string sql, Func<SqliteDataReader, T> read, params (string Name, object Value)[] parameters)
    {
        using var command = _connection!.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var rows = new List<T>();
        using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>Drops cached specs of workloads that are no longer active.</summary>
    public void Prune(DatabaseWorld world)
    {
        if (_specs.Count > 4 * world.Active.Count + 64)
        {
            var keep = world.Active.Select(w => w.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var id in _specs.Keys.Where(k => !keep.Contains(k)).ToList())
            {
                _specs.Remove(id);
            }
        }
    }

    private List<DeviceRecord> Devices(string json)
    {
        if (!_devices.TryGetValue(json, out var devices))
        {
            devices = JsonSerializer.Deserialize<List<DeviceRecord>>(json, JsonBody.Options) ?? [];
            _devices[json] = devices;
        }

        return devices;
    }

    private void Hold(DatabaseWorld world)
    {
        foreach (var w in world.Active.Where(w => w.State != WorkloadStates.Pending))
        {
            var spec = _specs[w.Id];
            var pods = PlacementDto.Read(w.PlacementJson);
            if (pods.Count == 0)
            {
                world.Problems.Add($"{w.Id} is {w.State} without a placement");
            }

            foreach (var set in spec.PodSets)
            {
                var mine = pods.Where(p => p.PodSet == set.Name).ToList();
                if (mine.Count < set.RequiredCount || mine.Count > set.Count || mine.Select(p => p.Index).Distinct().Count() != mine.Count)
                {
                    world.Problems.Add($"{w.Id} pod set {set.Name}: {mine.Count} pods placed, needs {set.RequiredCount}..{set.Count} distinct");
                }
            }

            foreach (var pod in pods)
            {
                var set = spec.PodSets.FirstOrDefault(p => p.Name == pod.PodSet);
                if (set is null || !world.Devices.TryGetValue(pod.Node, out var devices))
                {
                    world.Problems.Add($"{w.Id} pod {pod.PodSet}/{pod.Index} on unknown node {pod.Node} or pod set");
                    continue;
                }

                var a = set.Accelerator;
                var shapeOk = a.IsNone ? pod.Devices.Count == 0
                    : a.IsFraction ? pod.Devices.Count == 1 && pod.MilliPerDevice == a.Milli
                    : pod.Devices.Count == a.Count && pod.MilliPerDevice == 1000 && pod.Devices.Distinct().Count() == a.Count;
                if (!shapeOk)
                {
                    world.Problems.Add($"{w.Id} pod {pod.PodSet}/{pod.Index} holds [{string.Join(",", pod.Devices)}] at {pod.MilliPerDevice} for a request of {a.Count} whole / {a.Milli} milli");
                }

                var queue = w.TenantId + "/" + w.Queue;
                world.NodeCpu[pod.Node] = world.NodeCpu.GetValueOrDefault(pod.Node) + set.CpuMilli;
                world.NodeMemory[pod.Node] = world.NodeMemory.GetValueOrDefault(pod.Node) + set.MemoryMiB;
                Charge(world, queue, ResourceNames.CpuIndex, set.CpuMilli);
                Charge(world, queue, ResourceNames.MemoryIndex, set.MemoryMiB);
                foreach (var d in pod.Devices)
                {
                    var device = devices.FirstOrDefault(x => x.Index == d);
                    if (device is null || !catalog.TryGet(device.Model, out var type))
                    {
                        world.Problems.Add($"{w.Id} holds device {d} of {pod.Node}, which the node does not have");
                        continue;
                    }

                    var use = world.DeviceUse.GetValueOrDefault((pod.Node, d));
                    world.DeviceUse[(pod.Node, d)] = (use.Milli + pod.MilliPerDevice, use.Whole + (pod.MilliPerDevice == 1000 ? 1 : 0), use.Sharers + (pod.MilliPerDevice < 1000 ? 1 : 0));
                    world.AllocatedMilli += pod.MilliPerDevice;
                    Charge(world, queue, ResourceNames.AcceleratorIndex(type.Id), pod.MilliPerDevice);
                    Charge(world, queue, ResourceNames.ScuIndex, ((pod.MilliPerDevice * type.ScuMilli) + 999) / 1000);
                }
            }
        }
    }

    private static void Charge(DatabaseWorld world, string queue, int r, long amount) =>
        world.QueueUsage[r][queue] = world.QueueUsage[r].GetValueOrDefault(queue) + amount;

    /// <summary>
    /// Every invariant of the state after a cycle, given the state just before it (null: no quota limit may
    /// be exceeded at all). Returns readable problems; empty when all hold.
    /// </summary>
    public List<string> Check(DatabaseWorld? before, DatabaseWorld after)
    {
        var problems = new List<string>(after.Problems);
        var nodes = after.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);

        // Capacity: no device over 1000 milli, a whole device has one owner and no sharer, CPU and memory within the node.
        foreach (var ((node, device), use) in after.DeviceUse)
        {
            if (use.Milli > 1000 || use.Whole > 1 || (use.Whole == 1 && use.Sharers > 0))
            {
                problems.Add($"device {node}/{device}: {use.Milli} milli, {use.Whole} whole owners, {use.Sharers} sharers");
            }

            if (nodes[node].Draining)
            {
                problems.Add($"device {node}/{device} still held on a draining node");
            }
        }

        foreach (var n in after.Nodes)
        {
            if (after.NodeCpu.GetValueOrDefault(n.Name) > n.CpuMilli || after.NodeMemory.GetValueOrDefault(n.Name) > n.MemoryMiB)
            {
                problems.Add($"node {n.Name} over capacity: cpu {after.NodeCpu.GetValueOrDefault(n.Name)}/{n.CpuMilli}, memory {after.NodeMemory.GetValueOrDefault(n.Name)}/{n.MemoryMiB}");
            }
        }

        // Attempts: an admitted or running workload has exactly one live attempt, its current one; nothing else has one.
        var liveByWorkload = after.LiveAttempts.GroupBy(a => a.WorkloadId).ToDictionary(g => g.Key, g => g.Select(a => a.Number).ToList(), StringComparer.Ordinal);
        var activeById = after.Active.ToDictionary(w => w.Id, StringComparer.Ordinal);
        foreach (var w in after.Active)
        {
            var attempts = liveByWorkload.GetValueOrDefault(w.Id) ?? [];
            if (w.State == WorkloadStates.Pending)
            {
                if (attempts.Count > 0 || w.PlacementJson is not null)
                {
                    problems.Add($"pending {w.Id} has live attempts [{string.Join(",", attempts)}] or a placement");
                }

                if (w.CancelRequested)
                {
                    problems.Add($"{w.Id} is pending with a cancel requested: it will never run and never end");
                }
            }
            else if (attempts.Count != 1 || attempts[0] != w.Attempt)
            {
                problems.Add($"{w.State} {w.Id} (attempt {w.Attempt}) has live attempts [{string.Join(",", attempts)}]");
            }
        }

        foreach (var id in liveByWorkload.Keys.Where(id => !activeById.ContainsKey(id)))
        {
            problems.Add($"finished workload {id} still has a live attempt");
        }

        // Quota: recomputed with the reference model from the queue and cohort rows. A limit may be
        // exceeded only where a quota decrease left it exceeded before this cycle and the cycle added nothing.
        var model = new QuotaModel(
            catalog,
            after.Cohorts.Select(ClusterSnapshot.ToCore),
            after.Queues.Select(ClusterSnapshot.ToCore));
        var excused = false;
        foreach (var r in Resources(after))
        {
            var e = model.Evaluate(r, after.QueueUsage[r]);
            QuotaModel.Evaluation? b = null;
            for (var i = 0; i < e.Names.Length; i++)
            {
                var name = ResourceNames.NameOf(r, catalog);
                if (e.Over(i))
                {
                    b ??= before is null ? null : model.Evaluate(r, before.QueueUsage[r]);
                    if (b is not null && b.Over(i) && e.Usage[i] <= b.Usage[i])
                    {
                        excused = true;
                    }
                    else
                    {
                        problems.Add($"{e.Names[i]} {name}: usage {e.Usage[i]} over its limit {e.Limit[i]} (before the cycle {b?.Usage[i]})");
                    }
                }

                // Lending: what a node keeps guaranteed and does not use is never used by another in its tree.
                if (e.Constrained[i] && e.IsRoot[i] && e.Committed(i) > e.TreeNominal[i])
                {
                    b ??= before is null ? null : model.Evaluate(r, before.QueueUsage[r]);
                    if (e.LendingProblem(i, b) is { } lending)
                    {
                        problems.Add($"{name}: {lending}");
                    }
                    else
                    {
                        excused = true;
                    }
                }
            }
        }

        if (excused)
        {
            OverLimitAfterDecrease++;
        }

        return problems;
    }

    /// <summary>CPU, memory, SCU and every accelerator model the nodes have: other models are never used.</summary>
    private IEnumerable<int> Resources(DatabaseWorld world)
    {
        yield return ResourceNames.CpuIndex;
        yield return ResourceNames.MemoryIndex;
        yield return ResourceNames.ScuIndex;
        foreach (var model in world.Devices.Values.SelectMany(d => d).Select(d => d.Model).Distinct(StringComparer.Ordinal))
        {
            if (catalog.TryGet(model, out var type))
            {
                yield return ResourceNames.AcceleratorIndex(type.Id);
            }
        }
    }
}
