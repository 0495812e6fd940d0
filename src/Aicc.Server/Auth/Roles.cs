namespace Aicc.Server.Auth;

public static class Roles
{
    public const string PlatformAdmin = "platform-admin";
    public const string TenantAdmin = "tenant-admin";
    public const string Member = "member";

    public static readonly string[] All = [PlatformAdmin, TenantAdmin, Member];

    /// <summary>Higher is more powerful; a caller never grants more than it has.</summary>
    public static int Rank(string role) => role switch
    {
        PlatformAdmin => 3,
        TenantAdmin => 2,
        Member => 1,
        _ => 0,
    };
}

/// <summary>Who is calling, resolved from the bearer token.</summary>
public sealed record Caller(string TokenId, string TenantId, string UserName, string Role)
{
    public bool IsPlatformAdmin => Role == Roles.PlatformAdmin;

    /// <summary>Another tenant's objects are invisible: they answer exactly like missing ones.</summary>
    public bool CanSee(string tenantId) => IsPlatformAdmin || TenantId == tenantId;

    public bool CanAdminister(string tenantId) => IsPlatformAdmin || (Role == Roles.TenantAdmin && TenantId == tenantId);
}
