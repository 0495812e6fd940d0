using Aicc.Server.Auth;
using Aicc.Server.Persistence;
using Microsoft.AspNetCore.Http;

namespace Aicc.Server.Api;

public static class CallerContext
{
    private const string Key = "aicc.caller";

    public static Caller? GetCaller(this HttpContext context) => context.Items.TryGetValue(Key, out var c) ? c as Caller : null;

    /// <summary>Set once by the authentication middleware; endpoints under /api/v1 always have one.</summary>
    public static Caller RequireCaller(this HttpContext context) =>
        context.GetCaller() ?? throw new InvalidOperationException("an /api/v1 endpoint ran without an authenticated caller");

    internal static void SetCaller(this HttpContext context, Caller caller) => context.Items[Key] = caller;

    /// <summary>
    /// The tenant a request acts on: the caller's own, or for a platform admin the one named by
    /// <c>?tenant=</c>. Another tenant named by anyone else is answered as missing.
    /// </summary>
    public static bool TryResolveTenant(this Caller caller, string? requested, out string tenant)
    {
        tenant = string.IsNullOrEmpty(requested) ? caller.TenantId : requested;
        return caller.CanSee(tenant);
    }
}

/// <summary>Resolves the bearer token; a second step rejects calls without one after rate limiting.</summary>
public sealed class AuthenticationMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context, TokenService tokens, AiccDb db)
    {
        if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            var header = context.Request.Headers.Authorization.ToString();
            if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                var caller = await tokens.AuthenticateAsync(db, header["Bearer ".Length..].Trim(), context.RequestAborted);
                if (caller is not null)
                {
                    context.SetCaller(caller);
                }
            }
        }

        await next(context);
    }
}

public sealed class RequireCallerMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal) && context.GetCaller() is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "Unauthorized",
                detail: "send 'Authorization: Bearer <token>' with a valid, unexpired token (run `aicc login`)",
                type: "urn:aicc:problem:unauthorized").ExecuteAsync(context);
            return;
        }

        await next(context);
    }
}
