using Aicc.Scheduling.Validation;
using Aicc.Server.Auth;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Api;

public sealed record TenantRequest(string? Name, string? DisplayName);

public sealed record TenantDto(string Name, string DisplayName, DateTimeOffset CreatedAt);

public sealed record UserRequest(string? Name, string? Role);

public sealed record UserDto(string Tenant, string Name, string Role, DateTimeOffset CreatedAt);

public sealed record TokenRequest(string? Tenant, string? User, string? Role, int? ExpiresInDays, string? Description);

public sealed record TokenDto(string Id, string Tenant, string User, string Role, string Description, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

public sealed record IssuedTokenDto(string Id, string Tenant, string User, string Role, DateTimeOffset? ExpiresAt, string Token);

/// <summary>Tenants, their users and API tokens.</summary>
public static class TenantEndpoints
{
    public static void MapTenantEndpoints(this IEndpointRouteBuilder api)
    {
        var tenants = api.MapGroup("/tenants").WithTags("Tenants");
        tenants.MapPost("/", CreateTenantAsync).WithSummary("Create a tenant (platform admin), with a default queue.");
        tenants.MapGet("/", ListTenantsAsync).WithSummary("Tenants the caller can see.");
        tenants.MapGet("/{tenant}", GetTenantAsync).WithSummary("One tenant.");
        tenants.MapPost("/{tenant}/users", CreateUserAsync).WithSummary("Add a user to a tenant (tenant admin).");
        tenants.MapGet("/{tenant}/users", ListUsersAsync).WithSummary("Users of a tenant.");

        var tokens = api.MapGroup("/tokens").WithTags("Tokens");
        tokens.MapPost("/", CreateTokenAsync).WithSummary("Issue a token; the secret is in this answer only.");
        tokens.MapGet("/", ListTokensAsync).WithSummary("Tokens of the caller's tenant (never their secrets).");
        tokens.MapDelete("/{id}", RevokeTokenAsync).WithSummary("Revoke a token; it stops working at once.");
    }

    private static async Task<IResult> CreateTenantAsync(HttpContext http, AiccDb db, ServerContext server, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.IsPlatformAdmin)
        {
            return Problems.Forbidden("only a platform admin creates tenants");
        }

        var (body, error) = await JsonBody.ReadAsync<TenantRequest>(http.Request, server.Options, ct);
        if (body is null)
        {
            return error!;
        }

        if (body.Name is null || !JobSpec.NamePattern().IsMatch(body.Name))
        {
            return Problems.Invalid("name", "use 1..63 characters of a-z, 0-9, '-', '_' and '.', starting with a letter or digit");
        }

        if (body.DisplayName is { Length: > 200 } || (body.DisplayName?.Any(char.IsControl) ?? false))
        {
            return Problems.Invalid("displayName", "at most 200 characters, no control characters");
        }

        if (await db.Tenants.AnyAsync(t => t.Id == body.Name, ct))
        {
            return Problems.Conflict($"tenant '{body.Name}' already exists");
        }

        var row = new TenantRow { Id = body.Name, DisplayName = body.DisplayName ?? body.Name, CreatedAt = server.Time.GetUtcNow() };
        db.Tenants.Add(row);
        db.Queues.Add(new QueueRow { TenantId = row.Id, Name = "default" });
        await db.SaveChangesAsync(ct);
        server.Signal.ConfigurationChanged();
        return Results.Created($"/api/v1/tenants/{row.Id}", new TenantDto(row.Id, row.DisplayName, row.CreatedAt));
    }

    private static async Task<IResult> ListTenantsAsync(HttpContext http, AiccDb db, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var rows = await db.Tenants.AsNoTracking().Where(t => caller.IsPlatformAdmin || t.Id == caller.TenantId).OrderBy(t => t.Id).ToListAsync(ct);
        return Results.Ok(rows.Select(t => new TenantDto(t.Id, t.DisplayName, t.CreatedAt)));
    }

    private static async Task<IResult> GetTenantAsync(string tenant, HttpContext http, AiccDb db, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var row = caller.CanSee(tenant) ? await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tenant, ct) : null;
        return row is null ? Problems.NotFound("tenant", tenant) : Results.Ok(new TenantDto(row.Id, row.DisplayName, row.CreatedAt));
    }

    private static async Task<IResult> CreateUserAsync(string tenant, HttpContext http, AiccDb db, ServerContext server, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.CanSee(tenant) || !await db.Tenants.AnyAsync(t => t.Id == tenant, ct))
        {
            return Problems.NotFound("tenant", tenant);
        }

        if (!caller.CanAdminister(tenant))
        {
            return Problems.Forbidden("only a tenant admin of this tenant or a platform admin adds users");
        }

        var (body, error) = await JsonBody.ReadAsync<UserRequest>(http.Request, server.Options, ct);
        if (body is null)
        {
            return error!;
        }

        var problems = new List<ValidationProblem>();
        if (body.Name is null || !JobSpec.NamePattern().IsMatch(body.Name))
        {
            problems.Add(new("name", "use 1..63 characters of a-z, 0-9, '-', '_' and '.'"));
        }

        var role = body.Role ?? Roles.Member;
        if (!Roles.All.Contains(role))
        {
            problems.Add(new("role", $"'{role}'; choose {string.Join(", ", Roles.All)}"));
        }
        else if (Roles.Rank(role) > Roles.Rank(caller.Role))
        {
            problems.Add(new("role", "cannot grant a role above your own"));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        if (await db.Users.AnyAsync(u => u.TenantId == tenant && u.Name == body.Name, ct))
        {
            return Problems.Conflict($"user '{body.Name}' already exists in tenant '{tenant}'");
        }

        var row = new UserRow { TenantId = tenant, Name = body.Name!, Role = role, CreatedAt = server.Time.GetUtcNow() };
        db.Users.Add(row);
        await db.SaveChangesAsync(ct);
        return Results.Created($"/api/v1/tenants/{tenant}/users/{row.Name}", new UserDto(tenant, row.Name, row.Role, row.CreatedAt));
    }

    private static async Task<IResult> ListUsersAsync(string tenant, HttpContext http, AiccDb db, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.CanSee(tenant) || !await db.Tenants.AnyAsync(t => t.Id == tenant, ct))
        {
            return Problems.NotFound("tenant", tenant);
        }

        var rows = await db.Users.AsNoTracking().Where(u => u.TenantId == tenant).OrderBy(u => u.Name).ToListAsync(ct);
        return Results.Ok(rows.Select(u => new UserDto(u.TenantId, u.Name, u.Role, u.CreatedAt)));
    }

    private static async Task<IResult> CreateTokenAsync(HttpContext http, AiccDb db, ServerContext server, TokenService tokens, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var (body, error) = await JsonBody.ReadAsync<TokenRequest>(http.Request, server.Options, ct);
        if (body is null)
        {
            return error!;
        }

        if (!caller.TryResolveTenant(body.Tenant, out var tenant) || !await db.Tenants.AnyAsync(t => t.Id == tenant, ct))
        {
            return Problems.NotFound("tenant", body.Tenant ?? caller.TenantId);
        }

        var problems = new List<ValidationProblem>();
        var userName = body.User ?? caller.UserName;
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.TenantId == tenant && u.Name == userName, ct);
        if (user is null)
        {
            problems.Add(new("user", $"no user '{userName}' in tenant '{tenant}'; add one with POST /api/v1/tenants/{tenant}/users"));
        }
        else if (!(user.Name == caller.UserName && user.TenantId == caller.TenantId) && !caller.CanAdminister(tenant))
        {
            return Problems.Forbidden("members issue tokens for themselves only");
        }

        var role = body.Role ?? user?.Role ?? Roles.Member;
        if (!Roles.All.Contains(role))
        {
            problems.Add(new("role", $"'{role}'; choose {string.Join(", ", Roles.All)}"));
        }
        else if (user is not null && Roles.Rank(role) > Roles.Rank(user.Role))
        {
            problems.Add(new("role", $"'{role}' is above the user's role '{user.Role}'"));
        }
        else if (Roles.Rank(role) > Roles.Rank(caller.Role))
        {
            problems.Add(new("role", "cannot grant a role above your own"));
        }

        var days = body.ExpiresInDays ?? 90;
        if (days is < 1 or > 3650)
        {
            problems.Add(new("expiresInDays", $"{days}; must be 1..3650"));
        }

        if (body.Description is { Length: > 200 } || (body.Description?.Any(char.IsControl) ?? false))
        {
            problems.Add(new("description", "at most 200 characters, no control characters"));
        }

        if (problems.Count > 0)
        {
            return Problems.Invalid(problems);
        }

        var (row, secret) = tokens.Issue(tenant, userName, role, server.Time.GetUtcNow().AddDays(days), body.Description ?? "");
        db.Tokens.Add(row);
        await db.SaveChangesAsync(ct);
        return Results.Created($"/api/v1/tokens/{row.Id}", new IssuedTokenDto(row.Id, row.TenantId, row.UserName, row.Role, row.ExpiresAt, secret));
    }

    private static async Task<IResult> ListTokensAsync(HttpContext http, AiccDb db, string? tenant, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        if (!caller.TryResolveTenant(tenant, out var t))
        {
            return Problems.NotFound("tenant", tenant!);
        }

        var mine = !caller.CanAdminister(t);
        var rows = await db.Tokens.AsNoTracking()
            .Where(x => x.TenantId == t && (!mine || x.UserName == caller.UserName))
            .OrderBy(x => x.CreatedAt).ToListAsync(ct);
        return Results.Ok(rows.Select(x => new TokenDto(x.Id, x.TenantId, x.UserName, x.Role, x.Description, x.CreatedAt, x.ExpiresAt, x.RevokedAt)));
    }

    private static async Task<IResult> RevokeTokenAsync(string id, HttpContext http, AiccDb db, ServerContext server, TokenService tokens, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var row = await db.Tokens.FirstOrDefaultAsync(t => t.Id == id, ct);
        if (row is null || !caller.CanSee(row.TenantId))
        {
            return Problems.NotFound("token", id);
        }

        if (!caller.CanAdminister(row.TenantId) && !(row.UserName == caller.UserName && row.TenantId == caller.TenantId))
        {
            return Problems.NotFound("token", id);
        }

        row.RevokedAt ??= server.Time.GetUtcNow();
        await db.SaveChangesAsync(ct);
        tokens.Forget(row);
        return Results.Ok(new TokenDto(row.Id, row.TenantId, row.UserName, row.Role, row.Description, row.CreatedAt, row.ExpiresAt, row.RevokedAt));
    }
}
