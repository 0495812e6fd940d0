using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aicc.Server.Api;
using Aicc.Server.Persistence;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Data.Sqlite;

namespace Aicc.Server.Tests.Prove;

/// <summary>Who an endpoint is for: anyone signed in, a tenant admin, or a platform admin.</summary>
public enum Audience
{
    Member,
    TenantAdmin,
    PlatformAdmin,
}

/// <summary>
/// How the suites call one endpoint. Templates hold placeholders: {T} tenant, {W} workload id, {K}
/// token id, {N} node name, {C} cohort name. For a cross-tenant check they are filled with tenant A's
/// objects and with ids that do not exist; the two answers must be the same.
/// </summary>
public sealed record EndpointRule(Audience Audience, string Path, string? Body = null, Type? BodyType = null);

/// <summary>The values a template is filled with.</summary>
public sealed record Ids(string Tenant, string Workload, string Token, string Node, string Cohort)
{
    public string Fill(string template) => template
        .Replace("{T}", Tenant, StringComparison.Ordinal)
        .Replace("{W}", Workload, StringComparison.Ordinal)
        .Replace("{K}", Token, StringComparison.Ordinal)
        .Replace("{N}", Node, StringComparison.Ordinal)
        .Replace("{C}", Cohort, StringComparison.Ordinal);

    public IEnumerable<string> All => [Tenant, Workload, Token];
}

/// <summary>
/// Every /api/v1 endpoint of the app, enumerated from its routing table, with the rule that says how
/// to call it. An endpoint without a rule fails the suites, so a new endpoint cannot go untested.
/// </summary>
public static partial class ApiMatrix
{
    public static readonly IReadOnlyDictionary<string, EndpointRule> Rules = new Dictionary<string, EndpointRule>(StringComparer.Ordinal)
    {
        ["POST /api/v1/tenants/"] = new(Audience.PlatformAdmin, "/api/v1/tenants", """{"name":"gamma"}""", typeof(TenantRequest)),
        ["GET /api/v1/tenants/"] = new(Audience.Member, "/api/v1/tenants"),
        ["GET /api/v1/tenants/{tenant}"] = new(Audience.Member, "/api/v1/tenants/{T}"),
        ["POST /api/v1/tenants/{tenant}/users"] = new(Audience.TenantAdmin, "/api/v1/tenants/{T}/users", """{"name":"carol","role":"member"}""", typeof(UserRequest)),
        ["GET /api/v1/tenants/{tenant}/users"] = new(Audience.Member, "/api/v1/tenants/{T}/users"),
        ["POST /api/v1/tokens/"] = new(Audience.Member, "/api/v1/tokens", """{"tenant":"{T}","user":"alice"}""", typeof(TokenRequest)),
        ["GET /api/v1/tokens/"] = new(Audience.Member, "/api/v1/tokens?tenant={T}"),
        ["DELETE /api/v1/tokens/{id}"] = new(Audience.Member, "/api/v1/tokens/{K}"),
        ["GET /api/v1/queues/"] = new(Audience.Member, "/api/v1/queues?tenant={T}"),
        ["POST /api/v1/queues/"] = new(Audience.PlatformAdmin, "/api/v1/queues", """{"tenant":"{T}","name":"extra"}""", typeof(QueueRequest)),
        ["PUT /api/v1/queues/{name}/quotas"] = new(Audience.PlatformAdmin, "/api/v1/queues/default/quotas?tenant={T}", """{"quotas":{}}""", typeof(QuotaRequest)),
        ["GET /api/v1/cohorts/"] = new(Audience.PlatformAdmin, "/api/v1/cohorts"),
        ["PUT /api/v1/cohorts/{name}"] = new(Audience.PlatformAdmin, "/api/v1/cohorts/{C}", """{"quotas":{}}""", typeof(CohortRequest)),
        ["GET /api/v1/nodes/"] = new(Audience.Member, "/api/v1/nodes"),
        ["POST /api/v1/nodes/{name}/cordon"] = new(Audience.PlatformAdmin, "/api/v1/nodes/{N}/cordon"),
        ["POST /api/v1/nodes/{name}/uncordon"] = new(Audience.PlatformAdmin, "/api/v1/nodes/{N}/uncordon"),
        ["POST /api/v1/nodes/{name}/drain"] = new(Audience.PlatformAdmin, "/api/v1/nodes/{N}/drain"),
        ["POST /api/v1/workloads/"] = new(Audience.Member, "/api/v1/workloads?tenant={T}", Http.Job(), typeof(JobSpec)),
        ["GET /api/v1/workloads/"] = new(Audience.Member, "/api/v1/workloads?tenant={T}"),
        ["GET /api/v1/workloads/{id}"] = new(Audience.Member, "/api/v1/workloads/{W}"),
        ["POST /api/v1/workloads/{id}/cancel"] = new(Audience.Member, "/api/v1/workloads/{W}/cancel"),
        ["GET /api/v1/workloads/{id}/events"] = new(Audience.Member, "/api/v1/workloads/{W}/events"),
        ["GET /api/v1/workloads/{id}/logs"] = new(Audience.Member, "/api/v1/workloads/{W}/logs"),
        ["GET /api/v1/usage"] = new(Audience.Member, "/api/v1/usage?tenant={T}"),
    };

    /// <summary>"METHOD pattern" of every endpoint under /api, as the router has them.</summary>
    public static IReadOnlyList<string> Endpoints(TestServer server) =>
        [.. server.Get<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) ?? false)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => $"{m} {e.RoutePattern.RawText}"))
            .Order(StringComparer.Ordinal)];

    /// <summary>Whether an endpoint's handler takes a parameter of this name (a route or query value).</summary>
    public static bool TakesParameter(TestServer server, string endpoint, string name) =>
        server.Get<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => $"{e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods[0]} {e.RoutePattern.RawText}" == endpoint)
            .Any(e => e.Metadata.GetMetadata<MethodInfo>()?.GetParameters().Any(p => p.Name == name) ?? false);

    public static HttpRequestMessage Request(string endpoint, EndpointRule rule, Ids ids, string? body = null)
    {
        var method = new HttpMethod(endpoint[..endpoint.IndexOf(' ', StringComparison.Ordinal)]);
        var request = new HttpRequestMessage(method, ids.Fill(rule.Path));
        var text = body ?? rule.Body;
        if (text is not null)
        {
            request.Content = Http.Json(ids.Fill(text));
        }

        return request;
    }

    /// <summary>A problem answer with the ids it echoes replaced, so two answers can be compared.</summary>
    public static string Normalize(string body, Ids ids)
    {
        foreach (var id in ids.All.Append(ids.Node).Append(ids.Cohort).OrderByDescending(i => i.Length))
        {
            body = body.Replace(id, "<id>", StringComparison.Ordinal);
        }

        return TraceId().Replace(body, "\"traceId\":\"<trace>\"");
    }

    /// <summary>A digest of every row of every table but the audit log (which records denials by design).</summary>
    public static string Fingerprint(TestServer server)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "aicc.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var tables = new List<string>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit', 'sqlite_sequence') ORDER BY name";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var table in tables)
        {
            using var select = connection.CreateCommand();
            select.CommandText = $"SELECT * FROM \"{table}\" ORDER BY rowid";
            using var reader = select.ExecuteReader();
            hash.AppendData(Encoding.UTF8.GetBytes(table));
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    var value = reader.IsDBNull(i) ? "\u2400" : reader.GetValue(i) is byte[] b ? Convert.ToHexString(b) : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
                    hash.AppendData(Encoding.UTF8.GetBytes(value + "\u241F"));
                }
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Tenant A ("alpha") and tenant B ("beta"), each with a member and a tenant admin, a
    /// workload of A's, a cohort and the node names.</summary>
    public static async Task<World> BuildWorldAsync(TestServer server, string alpha = "alpha", string beta = "beta")
    {
        var admin = server.Admin();
        var alphaMember = await server.TenantMemberAsync(alpha);
        var betaMember = await server.TenantMemberAsync(beta);
        var alphaAdmin = await AddUserTokenAsync(server, alpha, "bob", "tenant-admin");
        var betaAdmin = await AddUserTokenAsync(server, beta, "bob", "tenant-admin");
        (await admin.PutAsync("/api/v1/cohorts/shared", Http.Json("""{"quotas":{}}"""))).EnsureSuccessStatusCode();
        var submitted = await server.Client(alphaMember).SubmitAsync(Http.Job());
        submitted.EnsureSuccessStatusCode();
        var workload = (await submitted.ReadJsonAsync())["id"]!.GetValue<string>();
        var tokens = await (await server.Client(alphaMember).GetAsync("/api/v1/tokens")).ReadJsonAsync();
        var token = tokens[0]!["id"]!.GetValue<string>();
        var node = (await (await admin.GetAsync("/api/v1/nodes")).ReadJsonAsync())[0]!["name"]!.GetValue<string>();
        return new World(
            alphaMember,
            alphaAdmin,
            betaMember,
            betaAdmin,
            new Ids(alpha, workload, token, node, "shared"),
            new Ids(beta, workload, token, node, "shared"),
            new Ids("no-such-tenant", "wl-0000000000000000", "tok-000000000000", node, "shared"));
    }

    private static async Task<string> AddUserTokenAsync(TestServer server, string tenant, string user, string role)
    {
        var admin = server.Admin();
        (await admin.PostAsync($"/api/v1/tenants/{tenant}/users", Http.Json($$"""{"name":"{{user}}","role":"{{role}}"}"""))).EnsureSuccessStatusCode();
        var issued = await (await admin.PostAsync("/api/v1/tokens", Http.Json($$"""{"tenant":"{{tenant}}","user":"{{user}}"}"""))).ReadJsonAsync();
        return issued["token"]!.GetValue<string>();
    }

    [GeneratedRegex("\"traceId\":\"[^\"]*\"")]
    private static partial Regex TraceId();
}

/// <summary>The two tenants of the isolation suites and their tokens.</summary>
public sealed record World(string AlphaMember, string AlphaAdmin, string BetaMember, string BetaAdmin, Ids Alpha, Ids Beta, Ids Missing);

/// <summary>Counts what the server must have audited: every mutating or denied /api request; and
/// keeps every token secret the server handed out, for the secret checks.</summary>
public sealed class AuditTally
{
    private readonly System.Collections.Concurrent.ConcurrentBag<string> _secrets = [];
    private int _expected;
    private int _sent;

    public int Expected => _expected;

    public int Sent => _sent;

    public IReadOnlyCollection<string> Secrets => _secrets;

    public void Secret(string secret) => _secrets.Add(secret);

    public void Record(HttpMethod method, HttpStatusCode status)
    {
        Interlocked.Increment(ref _sent);
        var mutating = method != HttpMethod.Get && method != HttpMethod.Head && method != HttpMethod.Options;
        var denied = status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests;
        if (mutating || denied)
        {
            Interlocked.Increment(ref _expected);
        }
    }
}

/// <summary>A client handler that tallies every answer for the audit check.</summary>
public sealed class TallyHandler(AuditTally tally) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (request.RequestUri?.AbsolutePath.StartsWith("/api/", StringComparison.Ordinal) ?? false)
        {
            tally.Record(request.Method, response.StatusCode);
            if (request.Method == HttpMethod.Post && request.RequestUri.AbsolutePath.StartsWith("/api/v1/tokens", StringComparison.Ordinal) && response.IsSuccessStatusCode)
            {
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                if (JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["token"]?.GetValue<string>() is { } secret)
                {
                    tally.Secret(secret);
                }
            }
        }

        return response;
    }
}

public static class ProblemReading
{
    public static async Task<JsonNode?> ProblemAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }
}
