using System.Net;
using System.Text.Json.Nodes;
using Aicc.Prove;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// S1 (isolation matrix) and S2 (mass assignment) of issue 6, over every /api/v1 endpoint the router
/// has. The traffic lives in static methods so the audit suite (S7) can replay it.
/// </summary>
public sealed class IsolationSuiteTests : IDisposable
{
    // The anonymous limit is raised so every unauthenticated call reaches the 401 check instead of 429.
    private readonly TestServer _server = new(configure: o => o.AnonymousRateLimitPerSecond = 100_000);

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task S1_EveryEndpoint_DeniesStrangersAndOtherTenantsLikeMissingIds()
    {
        var figures = await RunIsolationAsync(_server);
        var report = new ProveReport("S1", 0);
        foreach (var (k, v) in figures.Numbers)
        {
            report.Set(k, v);
        }

        report.Emit(figures.Failures.Count == 0);
        Assert.True(figures.Failures.Count == 0, string.Join("\n", figures.Failures));
        Assert.Equal(figures.Numbers["endpoints_total"], figures.Numbers["endpoints_covered"]);
        Assert.Equal(0, figures.Numbers["cross_tenant_successes"]);
    }

    [Fact]
    public async Task S2_ExtraFieldsOnEveryWriteEndpoint_AreRejectedAndNeverStored()
    {
        var figures = await RunMassAssignmentAsync(_server);
        var report = new ProveReport("S2", 0);
        foreach (var (k, v) in figures.Numbers)
        {
            report.Set(k, v);
        }

        report.Emit(figures.Failures.Count == 0);
        Assert.True(figures.Failures.Count == 0, string.Join("\n", figures.Failures));
        Assert.True(figures.Numbers["attempts"] > 50, "the suite sent too few requests to mean anything");
        Assert.Equal(0, figures.Numbers["stored"]);
    }

    public static async Task<SuiteFigures> RunIsolationAsync(TestServer server, string alpha = "alpha", string beta = "beta")
    {
        var world = await ApiMatrix.BuildWorldAsync(server, alpha, beta);
        var result = new SuiteFigures();
        var endpoints = ApiMatrix.Endpoints(server);
        var covered = 0;
        var crossSuccesses = 0;
        var requests = 0;
        foreach (var endpoint in endpoints)
        {
            if (!ApiMatrix.Rules.TryGetValue(endpoint, out var rule))
            {
                result.Failures.Add($"{endpoint}: no rule in ApiMatrix.Rules; say who may call it and how");
                continue;
            }

            var before = ApiMatrix.Fingerprint(server);

            // Unauthenticated and with a token that does not exist.
            foreach (var token in new[] { null, "aicc_" + new string('x', 43) })
            {
                using var response = await server.Client(token).SendAsync(ApiMatrix.Request(endpoint, rule, world.Alpha));
                requests++;
                Expect(result, endpoint, token is null ? "anonymous" : "unknown token", response.StatusCode, HttpStatusCode.Unauthorized);
            }

            // Tenant B (member and tenant admin) on tenant A's ids, against ids that do not exist.
            var crossTenant = new[] { "{T}", "{W}", "{K}" }.Any(p => rule.Path.Contains(p, StringComparison.Ordinal) || (rule.Body?.Contains(p, StringComparison.Ordinal) ?? false));
            foreach (var (who, token) in new[] { ("beta member", world.BetaMember), ("beta tenant-admin", world.BetaAdmin) })
            {
                var client = server.Client(token);
                if (crossTenant)
                {
                    using var onAlpha = await client.SendAsync(ApiMatrix.Request(endpoint, rule, world.Alpha));
                    using var onMissing = await client.SendAsync(ApiMatrix.Request(endpoint, rule, world.Missing));
                    requests += 2;
                    if (onAlpha.IsSuccessStatusCode)
                    {
                        crossSuccesses++;
                        result.Failures.Add($"{endpoint}: {who} succeeded on tenant A's objects ({(int)onAlpha.StatusCode})");
                    }

                    var a = ApiMatrix.Normalize(await onAlpha.Content.ReadAsStringAsync(), world.Alpha);
                    var m = ApiMatrix.Normalize(await onMissing.Content.ReadAsStringAsync(), world.Missing);
                    if (onAlpha.StatusCode != onMissing.StatusCode || a != m)
                    {
                        result.Failures.Add($"{endpoint}: {who} can tell A's objects from missing ones: {(int)onAlpha.StatusCode} {a} vs {(int)onMissing.StatusCode} {m}");
                    }
                }
                else
                {
                    using var own = await client.SendAsync(ApiMatrix.Request(endpoint, rule, world.Beta));
                    requests++;
                    var text = await own.Content.ReadAsStringAsync();
                    if (rule.Audience == Audience.PlatformAdmin)
                    {
                        Expect(result, endpoint, who, own.StatusCode, HttpStatusCode.Forbidden);
                    }
                    else if (world.Alpha.All.Any(id => text.Contains(id, StringComparison.Ordinal)))
                    {
                        crossSuccesses++;
                        result.Failures.Add($"{endpoint}: {who}'s answer shows tenant A's objects: {text}");
                    }
                }
            }

            // A's own member on admin routes, and A's tenant admin on platform routes.
            if (rule.Audience != Audience.Member)
            {
                using var member = await server.Client(world.AlphaMember).SendAsync(ApiMatrix.Request(endpoint, rule, world.Alpha));
                requests++;
                Expect(result, endpoint, "member on an admin route", member.StatusCode, HttpStatusCode.Forbidden);
            }

            if (rule.Audience == Audience.PlatformAdmin)
            {
                using var tenantAdmin = await server.Client(world.AlphaAdmin).SendAsync(ApiMatrix.Request(endpoint, rule, world.Alpha));
                requests++;
                Expect(result, endpoint, "tenant admin on a platform route", tenantAdmin.StatusCode, HttpStatusCode.Forbidden);
            }

            if (ApiMatrix.Fingerprint(server) != before)
            {
                result.Failures.Add($"{endpoint}: the database changed after denied requests");
            }

            covered++;
        }

        foreach (var stale in ApiMatrix.Rules.Keys.Except(endpoints))
        {
            result.Failures.Add($"ApiMatrix.Rules names '{stale}', which the app no longer has");
        }

        result.Numbers["endpoints_total"] = endpoints.Count;
        result.Numbers["endpoints_covered"] = covered;
        result.Numbers["denied_requests"] = requests;
        result.Numbers["cross_tenant_successes"] = crossSuccesses;
        return result;
    }

    /// <summary>Fields a client must never set, sent to every write endpoint one at a time.</summary>
    public static readonly string[] ForbiddenFields =
    [
        "tenantId", "status", "state", "priority", "quota", "quotas", "nodeId", "attempt", "isAdmin", "role", "id",
        "createdAt", "revokedAt", "hash", "exitCode", "owner", "admittedAt", "placement",
    ];

    public static async Task<SuiteFigures> RunMassAssignmentAsync(TestServer server, string alpha = "alpha", string beta = "beta")
    {
        var world = await ApiMatrix.BuildWorldAsync(server, alpha, beta);
        var result = new SuiteFigures();
        var attempts = 0;
        var stored = 0;
        foreach (var endpoint in ApiMatrix.Endpoints(server))
        {
            if (!ApiMatrix.Rules.TryGetValue(endpoint, out var rule) || rule.Body is null || rule.BodyType is null)
            {
                continue;
            }

            var real = rule.BodyType.GetProperties().Select(p => JsonNamingPolicyName(p.Name)).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var token = rule.Audience switch
            {
                Audience.PlatformAdmin => server.AdminToken,
                Audience.TenantAdmin => world.AlphaAdmin,
                _ => world.AlphaMember,
            };
            var client = server.Client(token);
            foreach (var field in ForbiddenFields.Where(f => !real.Contains(f)))
            {
                var body = JsonNode.Parse(world.Alpha.Fill(rule.Body))!.AsObject();
                body[field] = field switch
                {
                    "isAdmin" => true,
                    "attempt" or "priority" or "exitCode" => 7,
                    "quota" or "quotas" or "placement" => new JsonObject { ["gpu"] = 1_000_000 },
                    _ => "platform-admin",
                };
                var before = ApiMatrix.Fingerprint(server);
                using var response = await client.SendAsync(ApiMatrix.Request(endpoint, rule, world.Alpha, body.ToJsonString()));
                attempts++;
                var problem = await response.ProblemAsync();
                var named = problem?["errors"]?.AsArray().Any(e => string.Equals(e?["field"]?.GetValue<string>(), field, StringComparison.OrdinalIgnoreCase)) ?? false;
                if (response.StatusCode != HttpStatusCode.BadRequest || !named)
                {
                    result.Failures.Add($"{endpoint} with '{field}': {(int)response.StatusCode} {problem?.ToJsonString()}; expected 400 naming the field");
                }

                if (ApiMatrix.Fingerprint(server) != before)
                {
                    stored++;
                    result.Failures.Add($"{endpoint} with '{field}': the database changed");
                }
            }
        }

        // Real fields that carry authority: a member cannot raise a role or act for another user.
        var member = server.Client(world.AlphaMember);
        foreach (var (path, body) in new[]
        {
            ("/api/v1/tokens", """{"user":"alice","role":"platform-admin"}"""),
            ("/api/v1/tokens", """{"user":"bob"}"""),
            ($"/api/v1/tenants/{alpha}/users", """{"name":"mallory","role":"platform-admin"}"""),
        })
        {
            var before = ApiMatrix.Fingerprint(server);
            using var response = await member.PostAsync(path, Http.Json(body));
            attempts++;
            if (response.StatusCode is not (HttpStatusCode.BadRequest or HttpStatusCode.Forbidden))
            {
                result.Failures.Add($"POST {path} {body} by a member: {(int)response.StatusCode}");
            }

            if (ApiMatrix.Fingerprint(server) != before)
            {
                stored++;
                result.Failures.Add($"POST {path} {body} by a member changed the database");
            }
        }

        result.Numbers["attempts"] = attempts;
        result.Numbers["stored"] = stored;
        return result;
    }

    private static string JsonNamingPolicyName(string name) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(name);

    private static void Expect(SuiteFigures result, string endpoint, string who, HttpStatusCode actual, HttpStatusCode expected)
    {
        if (actual != expected)
        {
            result.Failures.Add($"{endpoint}: {who} got {(int)actual}, expected {(int)expected}");
        }
    }
}

/// <summary>What a suite's traffic found: named figures and one line per failure.</summary>
public sealed class SuiteFigures
{
    public Dictionary<string, long> Numbers { get; } = new(StringComparer.Ordinal);

    public List<string> Failures { get; } = [];
}
