using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Aicc.Scheduling.Validation;
using Aicc.Server.Execution;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aicc.Server.Api;

public sealed record AttemptDto(int Number, string State, int? ExitCode, string? Reason, DateTimeOffset AdmittedAt, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt);

public sealed record WaitingDto(string Reason, int QueuePosition);

public sealed record WorkloadDto(
    string Id,
    string Tenant,
    string Name,
    string Queue,
    int Priority,
    string State,
    string? Reason,
    int Attempt,
    int Failures,
    int MaxRetries,
    int? ExitCode,
    bool CancelRequested,
    DateTimeOffset SubmittedAt,
    DateTimeOffset? AdmittedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<PlacementDto> Placement,
    WaitingDto? Waiting,
    IReadOnlyList<AttemptDto>? Attempts,
    JobSpec? Spec);

public sealed record WorkloadPage(IReadOnlyList<WorkloadDto> Items, string? NextCursor);

public sealed record EventDto(long Id, DateTimeOffset At, string Type, string Message);

/// <summary>Submit, list, inspect, cancel, follow logs and events of workloads.</summary>
public static class WorkloadEndpoints
{
    public static void MapWorkloadEndpoints(this IEndpointRouteBuilder api)
    {
        var w = api.MapGroup("/workloads").WithTags("Workloads");
        w.MapPost("/", SubmitAsync).WithSummary("Submit a workload. Send Idempotency-Key to make retries safe.");
        w.MapGet("/", ListAsync).WithSummary("Workloads, newest first; filter by state and queue; cursor pagination.");
        w.MapGet("/{id}", GetAsync).WithSummary("State, placement, attempts, why it waits and its queue position.");
        w.MapPost("/{id}/cancel", CancelAsync).WithSummary("Cancel: pending ones at once, running ones by SIGTERM then SIGKILL.");
        w.MapGet("/{id}/events", EventsAsync).WithSummary("What happened to the workload, oldest first.");
        w.MapGet("/{id}/logs", LogsAsync).WithSummary("Standard output and error of the pods; follow=true streams until the workload ends.");
    }

    public static WorkloadDto ToDto(WorkloadRow w, WaitingBoard? board, IReadOnlyList<AttemptRow>? attempts, bool withSpec, JobSpec? parsed = null)
    {
        var spec = parsed ?? JsonSerializer.Deserialize<JobSpec>(w.SpecJson, JsonBody.Options)!;
        var waiting = w.State == WorkloadStates.Pending && board?.Get(w.Id) is { } b ? new WaitingDto(b.Reason.Replace(w.TenantId + "/", "", StringComparison.Ordinal), b.Position) : null;
        return new WorkloadDto(
            w.Id, w.TenantId, w.Name, w.Queue, w.Priority, w.State, w.Reason, w.Attempt, w.Failures, spec.MaxRetries, w.ExitCode, w.CancelRequested,
            w.SubmittedAt, w.AdmittedAt, w.StartedAt, w.FinishedAt, PlacementDto.Read(w.PlacementJson), waiting,
            attempts?.Select(a => new AttemptDto(a.Number, a.State, a.ExitCode, a.Reason, a.AdmittedAt, a.StartedAt, a.EndedAt)).ToList(),
            withSpec ? spec : null);
    }

    private static async Task<IResult> SubmitAsync(HttpContext http, AiccDb db, DbWriter writer, ServerContext server, SubmitValidator validator, string? tenant, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.TryResolveTenant(tenant, out var tenantId))
        {
            return Problems.NotFound("tenant", tenant!);
        }

        var key = http.Request.Headers["Idempotency-Key"].ToString();
        if (key.Length > 200 || key.Any(c => c < 0x21 || c > 0x7e))
        {
            return Problems.Invalid("Idempotency-Key", "use at most 200 visible ASCII characters (a UUID is a good key)");
        }

        var (spec, error) = await JsonBody.ReadAsync<JobSpec>(http.Request, server.Options, ct);
        if (spec is null)
        {
            return error!;
        }

        var problems = spec.Validate();
        if (server.Options.Executor == "slurm")
        {
            problems.AddRange(Execution.Slurm.SlurmSubmission.Check(spec));
        }

        var id = NewId();
        var now = server.Time.GetUtcNow();
        if (problems.Count == 0)
        {
            var core = spec.ToCore(id, tenantId, now);
            problems.AddRange((await validator.ValidateAsync(db, core, ct)).Select(p => JobSpec.Untenant(p, tenantId)));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        var canonical = JsonSerializer.Serialize(spec, JsonBody.Options);
        var hash = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonical));
        var row = new WorkloadRow
        {
            Id = id,
            TenantId = tenantId,
            Queue = spec.Queue!,
            Name = spec.Name ?? id,
            Priority = spec.Priority,
            SpecJson = canonical,
            SubmittedAt = now,
            IdempotencyKey = key.Length > 0 ? key : null,
            RequestHash = hash,
            Reason = "waiting: not yet considered by a scheduling cycle",
        };
        WorkloadRow stored;
        try
        {
            // One writer inserts every workload, so the key check and the insert cannot interleave
            // with another submission's; the unique index still guards other processes.
            stored = await writer.WriteAsync(
                async (wdb, wct) =>
                {
                    if (key.Length > 0 && await wdb.Workloads.AsNoTracking().FirstOrDefaultAsync(x => x.TenantId == tenantId && x.IdempotencyKey == key, wct) is { } existing)
                    {
                        return existing;
                    }

                    wdb.Workloads.Add(row);
                    wdb.Events.Add(new EventRow { WorkloadId = id, At = now, Type = "Submitted", Message = $"by {caller.UserName} to queue {spec.Queue}" });
                    return row;
                },
                ct);
        }
        catch (DbUpdateException) when (key.Length > 0)
        {
            stored = await db.Workloads.AsNoTracking().FirstOrDefaultAsync(x => x.TenantId == tenantId && x.IdempotencyKey == key, ct) ?? throw new InvalidOperationException("a workload insert failed without a conflicting key");
        }

        if (!ReferenceEquals(stored, row))
        {
            return Replay(http, stored, hash);
        }

        server.Signal.Wake();
        return Results.Created($"/api/v1/workloads/{id}", ToDto(row, null, null, withSpec: false, spec));
    }

    private static IResult Replay(HttpContext http, WorkloadRow existing, byte[] hash)
    {
        if (existing.RequestHash is null || !CryptographicOperations.FixedTimeEquals(existing.RequestHash, hash))
        {
            return Problems.Unprocessable("this Idempotency-Key was already used for a different request; use a new key for a new workload");
        }

        http.Response.Headers["Idempotent-Replayed"] = "true";
        return Results.Ok(ToDto(existing, null, null, withSpec: false));
    }

    private static string NewId()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        const string alphabet = "abcdefghijkmnopqrstuvwxyz23456789";
        var chars = new char[12];
        var value = BitConverter.ToUInt64(bytes);
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = alphabet[(int)(value % (ulong)alphabet.Length)];
            value /= (ulong)alphabet.Length;
        }

        return "wl-" + new string(chars);
    }

    private static async Task<IResult> ListAsync(HttpContext http, AiccDb db, WaitingBoard board, string? tenant, string? state, string? queue, int? limit, string? cursor, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var problems = new List<ValidationProblem>();
        var all = caller.IsPlatformAdmin && tenant == "*";
        if (!all && !caller.TryResolveTenant(tenant, out _))
        {
            return Problems.NotFound("tenant", tenant!);
        }

        caller.TryResolveTenant(tenant, out var tenantId);
        if (state is not null && !WorkloadStates.All.Contains(state))
        {
            problems.Add(new("state", $"'{state}'; choose {string.Join(", ", WorkloadStates.All)}"));
        }

        var take = limit ?? 50;
        if (take is < 1 or > 500)
        {
            problems.Add(new("limit", $"{take}; must be 1..500"));
        }

        long before = long.MaxValue;
        if (cursor is not null && (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out before) || before < 1))
        {
            problems.Add(new("cursor", "is not a cursor this server gave out; start without one"));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        var query = db.Workloads.AsNoTracking().Where(w => w.Seq < before);
        if (!all)
        {
            query = query.Where(w => w.TenantId == tenantId);
        }

        if (state is not null)
        {
            query = query.Where(w => w.State == state);
        }

        if (queue is not null)
        {
            query = query.Where(w => w.Queue == queue);
        }

        var rows = await query.OrderByDescending(w => w.Seq).Take(take + 1).ToListAsync(ct);
        var page = rows.Take(take).ToList();
        var next = rows.Count > take ? page[^1].Seq.ToString(CultureInfo.InvariantCulture) : null;
        return Results.Ok(new WorkloadPage([.. page.Select(w => ToDto(w, board, null, withSpec: false))], next));
    }

    private static async Task<WorkloadRow?> FindAsync(AiccDb db, HttpContext http, string id, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var row = await db.Workloads.FirstOrDefaultAsync(w => w.Id == id, ct);
        return row is not null && caller.CanSee(row.TenantId) ? row : null;
    }

    private static async Task<IResult> GetAsync(string id, HttpContext http, AiccDb db, WaitingBoard board, CancellationToken ct)
    {
        var row = await FindAsync(db, http, id, ct);
        if (row is null)
        {
            return Problems.NotFound("workload", id);
        }

        var attempts = await db.Attempts.AsNoTracking().Where(a => a.WorkloadId == id).OrderBy(a => a.Number).ToListAsync(ct);
        return Results.Ok(ToDto(row, board, attempts, withSpec: true));
    }

    private static async Task<IResult> CancelAsync(string id, HttpContext http, AiccDb db, WorkloadLifecycle lifecycle, CancellationToken ct)
    {
        var row = await FindAsync(db, http, id, ct);
        if (row is null)
        {
            return Problems.NotFound("workload", id);
        }

        var updated = await lifecycle.CancelAsync(id, http.RequireCaller().UserName, ct);
        return Results.Ok(ToDto(updated ?? row, null, null, withSpec: false));
    }

    private static async Task<IResult> EventsAsync(string id, HttpContext http, AiccDb db, CancellationToken ct)
    {
        var row = await FindAsync(db, http, id, ct);
        if (row is null)
        {
            return Problems.NotFound("workload", id);
        }

        var events = await db.Events.AsNoTracking().Where(e => e.WorkloadId == id).OrderBy(e => e.Id).Take(10_000).ToListAsync(ct);
        return Results.Ok(events.Select(e => new EventDto(e.Id, e.At, e.Type, e.Message)));
    }

    private static async Task<IResult> LogsAsync(string id, HttpContext http, AiccDb db, ServerContext server, bool? follow, string? pod, int? attempt, CancellationToken ct)
    {
        var row = await FindAsync(db, http, id, ct);
        if (row is null)
        {
            return Problems.NotFound("workload", id);
        }

        if (attempt is { } n && (n < 1 || n > row.Attempt))
        {
            return Problems.Invalid("attempt", row.Attempt == 0 ? "this workload has not started yet" : $"{n}; this workload has attempts 1..{row.Attempt}");
        }

        if (pod is not null && !JobSpec.NamePattern().IsMatch(pod))
        {
            return Problems.Invalid("pod", "name a pod as <podSet>-<index>, e.g. worker-0");
        }

        var scopes = http.RequestServices.GetRequiredService<IServiceScopeFactory>();
        return Results.Stream(
            s => LogStreamer.StreamAsync(s, id, attempt ?? row.Attempt, pod, follow == true && attempt is null, server, scopes, ct),
            "text/plain; charset=utf-8");
    }
}
