using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Auth;

/// <summary>
/// Issues and checks API tokens. A token is 256 random bits; only its SHA-256 is stored, so a copy of
/// the database cannot be replayed. Lookups are cached for a few seconds; revocation clears the cache
/// entry at once, so a revoked token stops working on the next request.
/// </summary>
public sealed class TokenService(TimeProvider time)
{
    public const string Prefix = "aicc_";
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, (TokenRow? Row, DateTimeOffset CachedAt)> _cache = new(StringComparer.Ordinal);

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public (TokenRow Row, string Secret) Issue(string tenantId, string userName, string role, DateTimeOffset? expiresAt, string description)
    {
        var secret = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var row = new TokenRow
        {
            Id = "tok-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            TenantId = tenantId,
            UserName = userName,
            Role = role,
            Description = description,
            Hash = Hash(secret),
            CreatedAt = time.GetUtcNow(),
            ExpiresAt = expiresAt,
        };
        return (row, secret);
    }

    public async Task<Caller?> AuthenticateAsync(AiccDb db, string secret, CancellationToken ct)
    {
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal) || secret.Length > 100)
        {
            return null;
        }

        var hash = Hash(secret);
        var key = Convert.ToHexString(hash);
        var now = time.GetUtcNow();
        if (!_cache.TryGetValue(key, out var entry) || now - entry.CachedAt > CacheFor)
        {
            var row = await db.Tokens.AsNoTracking().FirstOrDefaultAsync(t => t.Hash == hash, ct);
            entry = (row, now);
            _cache[key] = entry;
            if (_cache.Count > 100_000)
            {
                _cache.Clear();
            }
        }

        var token = entry.Row;
        if (token is null || token.RevokedAt is not null || (token.ExpiresAt is { } exp && exp <= now))
        {
            return null;
        }

        return new Caller(token.Id, token.TenantId, token.UserName, token.Role);
    }

    public void Forget(TokenRow row) => _cache.TryRemove(Convert.ToHexString(row.Hash), out _);

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
