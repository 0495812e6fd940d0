using System.Net;
using System.Text;
using Aicc.Prove;
using Aicc.Server.Api;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// S5 (tokens) and S7 (audit) of issue 6. S7 replays the traffic of S1, S2, S3 and S5 on one server and
/// counts: exactly one audit record per mutating or denied request, no secret in any record or log
/// line, and no CR/LF from a client in a logged field.
/// </summary>
public sealed class TokenAndAuditSuiteTests : IDisposable
{
    // S7 replays S1, whose unauthenticated calls must each reach the 401 check: the anonymous limit is
    // raised for that server; S5 keeps the default limit, which it must run into.
    private readonly TestServer _server = new();
    private readonly TestServer _lenient = new(configure: o => o.AnonymousRateLimitPerSecond = 100_000);

    public void Dispose()
    {
        _server.Dispose();
        _lenient.Dispose();
    }

    [Fact]
    public async Task S5_RandomTokensAreRejectedSecretsNeverStoredAndRevocationIsImmediate()
    {
        var figures = await RunTokensAsync(_server, ProveReport.Pick(10_000, 10_000), seed: 4711);
        var report = new ProveReport("S5", 4711);
        foreach (var (k, v) in figures.Numbers)
        {
            report.Set(k, v);
        }

        report.Emit(figures.Failures.Count == 0);
        Assert.True(figures.Failures.Count == 0, string.Join("\n", figures.Failures));
        Assert.Equal(0, figures.Numbers["random_tokens_accepted"]);
        Assert.True(figures.Numbers["random_tokens_rate_limited"] > 0, "10,000 bad tokens were never rate limited");
        Assert.Equal(0, figures.Numbers["secret_pieces_found"]);
        Assert.Equal(0, figures.Numbers["revoked_still_working"]);
    }

    [Fact]
    public async Task S7_AllSuitesTraffic_AuditsEachMutatingOrDeniedRequestOnceWithoutSecrets()
    {
        var all = new SuiteFigures();
        foreach (var run in new Func<Task<SuiteFigures>>[]
        {
            () => IsolationSuiteTests.RunIsolationAsync(_lenient),
            () => IsolationSuiteTests.RunMassAssignmentAsync(_lenient, "alpha2", "beta2"),
            () => RunTokensAsync(_lenient, 2_000, seed: 7),
            () => ForgeLinesAsync(_lenient),
        })
        {
            all.Failures.AddRange((await run()).Failures);
        }

        await _lenient.Get<AuditLog>().FlushAsync(CancellationToken.None);
        await using var db = _lenient.Db();
        var rows = await db.Audit.AsNoTracking().ToListAsync();
        var secrets = _lenient.Tally.Secrets.Append(_lenient.AdminToken).ToList();
        var auditText = string.Join("\n", rows.Select(r => $"{r.TenantId}\t{r.Actor}\t{r.Method}\t{r.Path}\t{r.Outcome}"));
        var inAudit = SecretPieces(auditText, secrets);
        var inLogs = SecretPieces(string.Join("\n", _lenient.Logs.Lines), secrets);
        var forgedAudit = rows.Count(r => $"{r.TenantId}{r.Actor}{r.Method}{r.Path}{r.Outcome}".Any(c => c is '\r' or '\n'));
        var forgedLogs = _lenient.Logs.Lines.Count(l => l.Contains("\nFORGED", StringComparison.Ordinal) || l.Contains("\rFORGED", StringComparison.Ordinal));

        var report = new ProveReport("S7", 7)
            .Set("requests", _lenient.Tally.Sent)
            .Set("audit_expected", _lenient.Tally.Expected)
            .Set("audit_records", rows.Count)
            .Set("secret_pieces_in_audit", inAudit)
            .Set("secret_pieces_in_logs", inLogs)
            .Set("forged_audit_records", forgedAudit)
            .Set("forged_log_lines", forgedLogs)
            .Set("log_lines", _lenient.Logs.Lines.Count);
        var pass = all.Failures.Count == 0 && rows.Count == _lenient.Tally.Expected && inAudit + inLogs + forgedAudit + forgedLogs == 0;
        report.Emit(pass);
        Assert.True(all.Failures.Count == 0, string.Join("\n", all.Failures));
        Assert.Equal(_lenient.Tally.Expected, rows.Count);
        Assert.Equal(0, inAudit);
        Assert.Equal(0, inLogs);
        Assert.Equal(0, forgedAudit);
        Assert.Equal(0, forgedLogs);
    }

    public static async Task<SuiteFigures> RunTokensAsync(TestServer server, int randomTokens, int seed)
    {
        var result = new SuiteFigures();
        var random = new Random(seed);
        var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int accepted = 0, unauthorized = 0, limited = 0;
        for (var i = 0; i < randomTokens; i++)
        {
            var secret = TokenServicePrefix + new string([.. Enumerable.Range(0, 43).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            using var response = await server.Client(secret).GetAsync("/api/v1/workloads");
            switch (response.StatusCode)
            {
                case HttpStatusCode.Unauthorized:
                    unauthorized++;
                    break;
                case HttpStatusCode.TooManyRequests when response.Headers.RetryAfter is not null:
                    limited++;
                    break;
                default:
                    accepted++;
                    result.Failures.Add($"random token {i} got {(int)response.StatusCode}");
                    break;
            }
        }

        // 100 real tokens: none of them, nor any 16-character piece, may reach the database, logs or audit.
        var admin = server.Admin();
        var tenant = "tok" + seed;
        (await admin.PostAsync("/api/v1/tenants", Http.Json($$"""{"name":"{{tenant}}"}"""))).EnsureSuccessStatusCode();
        (await admin.PostAsync($"/api/v1/tenants/{tenant}/users", Http.Json("""{"name":"alice"}"""))).EnsureSuccessStatusCode();
        var issued = new List<(string Id, string Secret)>();
        for (var i = 0; i < 100; i++)
        {
            var body = await (await admin.PostAsync("/api/v1/tokens", Http.Json($$"""{"tenant":"{{tenant}}","user":"alice","description":"s5 {{i}}"}"""))).ReadJsonAsync();
            issued.Add((body["id"]!.GetValue<string>(), body["token"]!.GetValue<string>()));
        }

        // Use each once, so every one is in the lookup cache when it is revoked below.
        foreach (var (_, secret) in issued.Take(10))
        {
            (await server.Client(secret).GetAsync("/api/v1/workloads")).EnsureSuccessStatusCode();
        }

        var revokedWorking = 0;
        foreach (var (id, secret) in issued.Take(10))
        {
            (await admin.DeleteAsync($"/api/v1/tokens/{id}")).EnsureSuccessStatusCode();
            using var after = await server.Client(secret).GetAsync("/api/v1/workloads");
            if (after.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests))
            {
                revokedWorking++;
                result.Failures.Add($"token {id} answered {(int)after.StatusCode} right after its revocation");
            }
        }

        await server.Get<AuditLog>().FlushAsync(CancellationToken.None);
        await using (var db = server.Db())
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE)");
        }

        var secrets = issued.Select(t => t.Secret).ToList();
        var files = new[] { "aicc.db", "aicc.db-wal" }.Select(f => Path.Combine(server.DataDirectory, f)).Where(File.Exists);
        var haystack = string.Join("\n", files.Select(f => Encoding.Latin1.GetString(File.ReadAllBytes(f))).Append(string.Join("\n", server.Logs.Lines)));
        var found = SecretPieces(haystack, secrets);
        if (found > 0)
        {
            result.Failures.Add($"{found} 16-character pieces of issued tokens are in the database file or the logs");
        }

        result.Numbers["random_tokens"] = randomTokens;
        result.Numbers["random_tokens_unauthorized"] = unauthorized;
        result.Numbers["random_tokens_rate_limited"] = limited;
        result.Numbers["random_tokens_accepted"] = accepted;
        result.Numbers["tokens_issued"] = issued.Count;
        result.Numbers["secret_pieces_found"] = found;
        result.Numbers["revoked_checked"] = 10;
        result.Numbers["revoked_still_working"] = revokedWorking;
        return result;
    }

    /// <summary>CR/LF (encoded) in the path, query and body of mutating and denied requests.</summary>
    private static async Task<SuiteFigures> ForgeLinesAsync(TestServer server)
    {
        var result = new SuiteFigures();
        var admin = server.Admin();
        foreach (var path in new[] { "/api/v1/workloads/x%0d%0aFORGED-LINE/cancel", "/api/v1/tokens/y%0aFORGED-LINE", "/api/v1/nodes/z%0dFORGED/cordon" })
        {
            using var response = await admin.SendAsync(new HttpRequestMessage(path.Contains("tokens", StringComparison.Ordinal) ? HttpMethod.Delete : HttpMethod.Post, path));
            if ((int)response.StatusCode >= 500)
            {
                result.Failures.Add($"{path}: {(int)response.StatusCode}");
            }
        }

        using (var anonymous = await server.Client(null).PostAsync("/api/v1/workloads?x=%0d%0aFORGED", Http.Json(Http.Job())))
        {
            if (anonymous.StatusCode != HttpStatusCode.Unauthorized)
            {
                result.Failures.Add($"anonymous submit: {(int)anonymous.StatusCode}");
            }
        }

        using var named = await admin.SubmitAsync("""{"name":"a\r\nFORGED","queue":"default","command":["true"],"podSets":[{"count":1}]}""", key: "k-FORGED");
        if (named.StatusCode != HttpStatusCode.BadRequest)
        {
            result.Failures.Add($"a CR/LF name answered {(int)named.StatusCode}");
        }

        return result;
    }

    /// <summary>How many 16-character pieces of the secrets occur in the text.</summary>
    public static int SecretPieces(string text, IReadOnlyCollection<string> secrets)
    {
        const int Piece = 16;
        var pieces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in secrets)
        {
            // The fixed prefix is public and not a secret; pieces start inside the random part.
            for (var i = TokenServicePrefix.Length; i + Piece <= s.Length; i++)
            {
                pieces.Add(s.Substring(i, Piece));
            }
        }

        var lookup = pieces.GetAlternateLookup<ReadOnlySpan<char>>();
        var span = text.AsSpan();
        var found = 0;
        for (var i = 0; i + Piece <= span.Length; i++)
        {
            if (lookup.Contains(span.Slice(i, Piece)))
            {
                found++;
            }
        }

        return found;
    }

    private const string TokenServicePrefix = Auth.TokenService.Prefix;
}
