using System.Text.Json;
using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Validation;
using Aicc.Server.Api;
using Aicc.Server.Inventory;
using Aicc.Server.Persistence;

namespace Aicc.Server.Scheduling;

/// <summary>The API form of one quota: milli-units (millicores, MiB, milli-SCU, milli-devices).</summary>
public sealed record QuotaDto(long Nominal, long? BorrowingLimit = null, long? LendingLimit = null);

/// <summary>Turns database rows into the scheduling core's specs.</summary>
public static class ClusterSnapshot
{
    public static Dictionary<string, QuotaDto> ReadQuotas(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, QuotaDto>>(json, JsonBody.Options) ?? [];

    public static string WriteQuotas(IReadOnlyDictionary<string, QuotaDto> quotas) => JsonSerializer.Serialize(quotas, JsonBody.Options);

    public static IReadOnlyDictionary<string, ResourceQuota> ToCore(string json) =>
        ReadQuotas(json).ToDictionary(kv => kv.Key, kv => new ResourceQuota(kv.Value.Nominal, kv.Value.BorrowingLimit, kv.Value.LendingLimit), StringComparer.Ordinal);

    public static List<ValidationProblem> CheckQuotas(IReadOnlyDictionary<string, QuotaDto>? quotas, AcceleratorCatalog catalog, string field)
    {
        var problems = new List<ValidationProblem>();
        foreach (var (key, q) in quotas ?? new Dictionary<string, QuotaDto>())
        {
            var at = $"{field}.{key}";
            if (ResourceNames.IndexOf(key, catalog) < 0)
            {
                problems.Add(new(at, $"unknown resource; use cpu, memory, scu or accelerator/<model> with a model of {string.Join(", ", catalog.Types.Select(t => t.Name))}"));
            }

            if (q is null)
            {
                problems.Add(new(at, "must be an object with nominal (and optional borrowingLimit, lendingLimit)"));
                continue;
            }

            if (q.Nominal < 0)
            {
                problems.Add(new(at + ".nominal", "must not be negative"));
            }

            if (q.BorrowingLimit < 0)
            {
                problems.Add(new(at + ".borrowingLimit", "must not be negative"));
            }

            if (q.LendingLimit < 0 || q.LendingLimit > q.Nominal)
            {
                problems.Add(new(at + ".lendingLimit", "must be 0..nominal"));
            }
        }

        return problems;
    }

    public static NodeSpec ToCore(NodeRow row)
    {
        var devices = JsonSerializer.Deserialize<List<DeviceRecord>>(row.DevicesJson, JsonBody.Options) ?? [];
        return new NodeSpec
        {
            Name = row.Name,
            CpuMilli = row.CpuMilli,
            MemoryMiB = row.MemoryMiB,
            Devices = [.. devices.Select(d => new DeviceSpec(d.Index, d.Model, d.MemoryMiB, d.Domain))],
            Labels = JsonSerializer.Deserialize<Dictionary<string, string>>(row.LabelsJson, JsonBody.Options) ?? [],
            Schedulable = !row.Cordoned && !row.Draining,
        };
    }

    public static QueueSpec ToCore(QueueRow row) => new()
    {
        Name = row.CoreName,
        Tenant = row.TenantId,
        Cohort = row.Cohort,
        Strategy = Enum.TryParse<QueueingStrategy>(row.Strategy, out var s) ? s : QueueingStrategy.BestEffortFifo,
        Quotas = ToCore(row.QuotasJson),
        FairWeight = row.FairWeight,
    };

    public static CohortSpec ToCore(CohortRow row) => new() { Name = row.Name, Parent = row.Parent, Quotas = ToCore(row.QuotasJson) };

    /// <summary>Builds a core scheduler; returns problems instead of throwing when the queues or cohorts are inconsistent.</summary>
    public static Scheduler? Build(
        AcceleratorCatalog catalog,
        IEnumerable<NodeRow> nodes,
        IEnumerable<QueueRow> queues,
        IEnumerable<CohortRow> cohorts,
        PolicySpec policy,
        out IReadOnlyList<string> problems)
    {
        var setup = new SchedulerSetup
        {
            Catalog = catalog,
            Nodes = [.. nodes.OrderBy(n => n.Name, StringComparer.Ordinal).Select(ToCore)],
            Queues = [.. queues.Select(ToCore)],
            Cohorts = [.. cohorts.Select(ToCore)],
            Policy = policy,
            LearnTargetWorkload = true,
        };
        QuotaTree.Build(catalog, setup.Queues, setup.Cohorts, out var quotaProblems);
        if (quotaProblems.Count > 0)
        {
            problems = [.. quotaProblems];
            return null;
        }

        problems = [];
        return new Scheduler(setup);
    }
}
