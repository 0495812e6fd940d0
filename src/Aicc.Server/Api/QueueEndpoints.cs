using Aicc.Scheduling.Validation;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Api;

public sealed record QueueRequest(string? Tenant, string? Name, string? Cohort, string? Strategy, Dictionary<string, QuotaDto>? Quotas, double? FairWeight);

public sealed record QuotaRequest(Dictionary<string, QuotaDto>? Quotas);

public sealed record QueueDto(string Tenant, string Name, string? Cohort, string Strategy, Dictionary<string, QuotaDto> Quotas, double FairWeight, int Pending, int Running);

public sealed record CohortRequest(string? Parent, Dictionary<string, QuotaDto>? Quotas);

public sealed record CohortDto(string Name, string? Parent, Dictionary<string, QuotaDto> Quotas);

/// <summary>Queues, their quotas, and the cohorts that lend idle quota between them.</summary>
public static class QueueEndpoints
{
    public static void MapQueueEndpoints(this IEndpointRouteBuilder api)
    {
        var queues = api.MapGroup("/queues").WithTags("Queues and quotas");
        queues.MapGet("/", ListAsync).WithSummary("Queues of a tenant with pending and running counts.");
        queues.MapPost("/", CreateAsync).WithSummary("Create a queue (platform admin).");
        queues.MapPut("/{name}/quotas", SetQuotasAsync).WithSummary("Set a queue's quotas (platform admin); milli-units.");

        var cohorts = api.MapGroup("/cohorts").WithTags("Queues and quotas");
        cohorts.MapGet("/", ListCohortsAsync).WithSummary("Cohorts (platform admin).");
        cohorts.MapPut("/{name}", PutCohortAsync).WithSummary("Create or change a cohort (platform admin).");
    }

    private static async Task<IResult> ListAsync(HttpContext http, AiccDb db, string? tenant, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.TryResolveTenant(tenant, out var t))
        {
            return Problems.NotFound("tenant", tenant!);
        }

        var all = caller.IsPlatformAdmin && tenant == "*";
        var rows = await db.Queues.AsNoTracking().Where(q => all || q.TenantId == t).OrderBy(q => q.TenantId).ThenBy(q => q.Name).ToListAsync(ct);
        var counts = await db.Workloads.AsNoTracking()
            .Where(w => (all || w.TenantId == t) && (w.State == WorkloadStates.Pending || w.State == WorkloadStates.Admitted || w.State == WorkloadStates.Running))
            .GroupBy(w => new { w.TenantId, w.Queue, Pending = w.State == WorkloadStates.Pending })
            .Select(g => new { g.Key.TenantId, g.Key.Queue, g.Key.Pending, Count = g.Count() })
            .ToListAsync(ct);
        return Results.Ok(rows.Select(q => ToDto(
            q,
            counts.Where(c => c.TenantId == q.TenantId && c.Queue == q.Name && c.Pending).Sum(c => c.Count),
            counts.Where(c => c.TenantId == q.TenantId && c.Queue == q.Name && !c.Pending).Sum(c => c.Count))));
    }

    private static QueueDto ToDto(QueueRow q, int pending, int running) =>
        new(q.TenantId, q.Name, q.Cohort, q.Strategy, ClusterSnapshot.ReadQuotas(q.QuotasJson), q.FairWeight, pending, running);

    private static async Task<IResult> CreateAsync(HttpContext http, AiccDb db, ServerContext server, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var (body, error) = await JsonBody.ReadAsync<QueueRequest>(http.Request, server.Options, ct);
        if (body is null)
        {
            return error!;
        }

        if (!caller.TryResolveTenant(body.Tenant, out var tenant) || !await db.Tenants.AnyAsync(t => t.Id == tenant, ct))
        {
            return Problems.NotFound("tenant", body.Tenant ?? caller.TenantId);
        }

        if (!caller.IsPlatformAdmin)
        {
            return Problems.Forbidden("queues and quotas are set by a platform admin");
        }

        var problems = ClusterSnapshot.CheckQuotas(body.Quotas, server.Inventory.Catalog, "quotas");
        if (body.Name is null || !JobSpec.NamePattern().IsMatch(body.Name))
        {
            problems.Add(new("name", "use 1..63 characters of a-z, 0-9, '-', '_' and '.'"));
        }

        var strategy = body.Strategy ?? "BestEffortFifo";
        if (strategy is not ("BestEffortFifo" or "StrictFifo"))
        {
            problems.Add(new("strategy", $"'{strategy}'; choose BestEffortFifo or StrictFifo"));
        }

        if (body.FairWeight is { } w && (w <= 0 || w > 1000 || double.IsNaN(w)))
        {
            problems.Add(new("fairWeight", "must be in (0, 1000]"));
        }

        if (body.Cohort is not null && !await db.Cohorts.AnyAsync(c => c.Name == body.Cohort, ct))
        {
            problems.Add(new("cohort", $"no cohort '{body.Cohort}'; create it with PUT /api/v1/cohorts/{{name}}"));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        if (await db.Queues.AnyAsync(q => q.TenantId == tenant && q.Name == body.Name, ct))
        {
            return Problems.Conflict($"queue '{body.Name}' already exists");
        }

        var row = new QueueRow
        {
            TenantId = tenant,
            Name = body.Name!,
            Cohort = body.Cohort,
            Strategy = strategy,
            QuotasJson = ClusterSnapshot.WriteQuotas(body.Quotas ?? []),
            FairWeight = body.FairWeight ?? 1.0,
        };
        db.Queues.Add(row);
        await db.SaveChangesAsync(ct);
        server.Signal.ConfigurationChanged();
        return Results.Created($"/api/v1/queues/{row.Name}", ToDto(row, 0, 0));
    }

    private static async Task<IResult> SetQuotasAsync(string name, string? tenant, HttpContext http, AiccDb db, ServerContext server, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.TryResolveTenant(tenant, out var t))
        {
            return Problems.NotFound("queue", name);
        }

        var row = await db.Queues.FirstOrDefaultAsync(q => q.TenantId == t && q.Name == name, ct);
        if (row is null)
        {
            return Problems.NotFound("queue", name);
        }

        if (!caller.IsPlatformAdmin)
        {
            return Problems.Forbidden("quotas are set by a platform admin");
        }

        var (body, error) = await JsonBody.ReadAsync<QuotaRequest>(http.Request, server.Options, ct);
        if (body is null)
        {
            return error!;
        }

        var problems = ClusterSnapshot.CheckQuotas(body.Quotas, server.Inventory.Catalog, "quotas");
        if (body.Quotas is null)
        {
            problems.Add(new ValidationProblem("quotas", "is required: an object of resource → {nominal, borrowingLimit, lendingLimit}"));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        row.QuotasJson = ClusterSnapshot.WriteQuotas(body.Quotas!);
        row.Version++;
        await db.SaveChangesAsync(ct);
        server.Signal.ConfigurationChanged();
        return Results.Ok(ToDto(row, 0, 0));
    }

    private static async Task<IResult> ListCohortsAsync(HttpContext http, AiccDb db, CancellationToken ct)
    {
        if (!http.RequireCaller().IsPlatformAdmin)
        {
            return Problems.Forbidden("cohorts are managed by a platform admin");
        }

        var rows = await db.Cohorts.AsNoTracking().OrderBy(c => c.Name).ToListAsync(ct);
        return Results.Ok(rows.Select(c => new CohortDto(c.Name, c.Parent, ClusterSnapshot.ReadQuotas(c.QuotasJson))));
    }

    private static async Task<IResult> PutCohortAsync(string name, HttpContext http, AiccDb db, ServerContext server, CancellationToken ct)
    {
        if (!http.RequireCaller().IsPlatformAdmin)
        {
            return Problems.Forbidden("cohorts are managed by a platform admin");
        }

        var (body, error) = await JsonBody.ReadAsync<CohortRequest>(http.Request, server.Options, ct);
        if (body is null)
        {
            return error!;
        }

        var problems = ClusterSnapshot.CheckQuotas(body.Quotas, server.Inventory.Catalog, "quotas");
        if (!JobSpec.NamePattern().IsMatch(name))
        {
            problems.Add(new("name", "use 1..63 characters of a-z, 0-9, '-', '_' and '.'"));
        }

        if (body.Parent is not null && (body.Parent == name || !await db.Cohorts.AnyAsync(c => c.Name == body.Parent, ct)))
        {
            problems.Add(new("parent", $"no other cohort '{body.Parent}'"));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        var row = await db.Cohorts.FirstOrDefaultAsync(c => c.Name == name, ct);
        if (row is null)
        {
            row = new CohortRow { Name = name };
            db.Cohorts.Add(row);
        }

        row.Parent = body.Parent;
        row.QuotasJson = ClusterSnapshot.WriteQuotas(body.Quotas ?? []);
        row.Version++;
        var cohorts = await db.Cohorts.AsNoTracking().Where(c => c.Name != name).ToListAsync(ct);
        cohorts.Add(row);
        var queues = await db.Queues.AsNoTracking().ToListAsync(ct);
        if (ClusterSnapshot.Build(server.Inventory.Catalog, [], queues, cohorts, server.Policy, out var treeProblems) is null)
        {
            return Problems.Invalid([.. treeProblems.Select(p => new ValidationProblem("parent", p))]);
        }

        await db.SaveChangesAsync(ct);
        server.Signal.ConfigurationChanged();
        return Results.Ok(new CohortDto(row.Name, row.Parent, ClusterSnapshot.ReadQuotas(row.QuotasJson)));
    }
}
