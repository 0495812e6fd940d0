using System.Net;
using System.Text;
using Aicc.Server.Api;
using Aicc.Server.Auth;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Tests;

public sealed class ApiTests : IDisposable
{
    private readonly TestServer _server = new();

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task Start_FirstTime_WritesOwnerOnlyAdminTokenAndStoresOnlyItsHash()
    {
        var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/tenants")).StatusCode);
        var path = Path.Combine(_server.DataDirectory, "admin-token");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var token = _server.AdminToken;
        Assert.Equal(256 / 8, Convert.FromBase64String(token[TokenService.Prefix.Length..].Replace('-', '+').Replace('_', '/') + "=").Length);
        await using var db = _server.Db();
        var row = await db.Tokens.SingleAsync();
        Assert.Equal(TokenService.Hash(token), row.Hash);
        await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE)");
        var bytes = await File.ReadAllBytesAsync(Path.Combine(_server.DataDirectory, "aicc.db"));
        Assert.DoesNotContain(token[8..24], Encoding.ASCII.GetString(bytes), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _server.CreateClient().GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task Api_WithoutOrWithWrongToken_Answers401Problem()
    {
        var anonymous = await _server.CreateClient().GetAsync("/api/v1/workloads");
        var wrong = await _server.Client("aicc_not-a-real-token").GetAsync("/api/v1/workloads");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task RevokeToken_RevokedToken_StopsWorkingAtOnce()
    {
        var token = await _server.TenantMemberAsync("acme");
        var member = _server.Client(token);
        Assert.Equal(HttpStatusCode.OK, (await member.GetAsync("/api/v1/workloads")).StatusCode);
        var id = (await (await member.GetAsync("/api/v1/tokens")).ReadJsonAsync())[0]!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await member.DeleteAsync($"/api/v1/tokens/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await member.GetAsync("/api/v1/workloads")).StatusCode);
    }

    [Fact]
    public async Task Submit_ManyBadFields_NamesEveryOneAtOnce()
    {
        var response = await _server.Admin().SubmitAsync("""{"queue":"","command":[],"env":{"RANK":"1","1x":"y"},"maxRetries":-1,"timeLimitSeconds":-5,"podSets":[]}""");
        var problem = await response.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var fields = problem["errors"]!.AsArray().Select(e => e!["field"]!.GetValue<string>()).ToHashSet();
        Assert.Superset(new HashSet<string> { "queue", "command", "env.RANK", "env.1x", "maxRetries", "timeLimitSeconds", "podSets" }, fields);
    }

    [Fact]
    public async Task Submit_UnknownField_IsRejectedAndNamed()
    {
        var response = await _server.Admin().SubmitAsync("""{"queue":"default","command":["true"],"tenantId":"other","podSets":[{"count":1}]}""");
        var problem = await response.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("tenantId", problem["errors"]![0]!["field"]!.GetValue<string>());
        await using var db = _server.Db();
        Assert.Equal(0, await db.Workloads.CountAsync());
    }

    [Fact]
    public async Task Submit_CoreRejectsShape_ProblemNamesPodSetField()
    {
        var response = await _server.Admin().SubmitAsync(Http.Job(gpus: 9));
        var problem = await response.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("podSets[0].accelerator.count", problem["errors"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Submit_SameIdempotencyKey_ReturnsTheSameWorkloadAndRejectsADifferentBody()
    {
        var admin = _server.Admin();
        var first = await admin.SubmitAsync(Http.Job(), key: "k-1");
        var again = await admin.SubmitAsync(Http.Job(), key: "k-1");
        var other = await admin.SubmitAsync(Http.Job(gpus: 2), key: "k-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal((await first.ReadJsonAsync())["id"]!.GetValue<string>(), (await again.ReadJsonAsync())["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        await using var db = _server.Db();
        Assert.Equal(1, await db.Workloads.CountAsync());
    }

    [Fact]
    public async Task Get_OtherTenantsWorkload_AnswersExactlyLikeAMissingOne()
    {
        var id = (await (await _server.Admin().SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>();
        var other = _server.Client(await _server.TenantMemberAsync("acme"));
        var foreign = await other.GetAsync($"/api/v1/workloads/{id}");
        var missing = await other.GetAsync("/api/v1/workloads/wl-doesnotexist");
        var cancel = await other.PostAsync($"/api/v1/workloads/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        var missingBody = (await missing.ReadJsonAsync()).AsObject();
        var foreignBody = (await foreign.ReadJsonAsync()).AsObject();
        missingBody.Remove("traceId");
        foreignBody.Remove("traceId");
        Assert.Equal(
            missingBody.ToJsonString().Replace("wl-doesnotexist", "ID", StringComparison.Ordinal),
            foreignBody.ToJsonString().Replace(id, "ID", StringComparison.Ordinal));
        Assert.Empty((await (await other.GetAsync("/api/v1/workloads")).ReadJsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task Member_OnAdminRoutes_Gets403AndAnAuditRecordWithoutTheSecret()
    {
        var token = await _server.TenantMemberAsync("acme");
        var member = _server.Client(token);
        var response = await member.PostAsync("/api/v1/nodes/local-0/cordon", null);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        await _server.Get<AuditLog>().FlushAsync(CancellationToken.None);
        await using var db = _server.Db();
        var audit = await db.Audit.Where(a => a.Path == "/api/v1/nodes/local-0/cordon").SingleAsync();
        Assert.Equal("denied", audit.Outcome);
        Assert.Equal("acme", audit.TenantId);
        Assert.DoesNotContain(await db.Audit.ToListAsync(), a => a.Actor.Contains(token[5..21], StringComparison.Ordinal) || a.Path.Contains(token[5..21], StringComparison.Ordinal));
    }

    [Fact]
    public async Task RateLimit_Exceeded_Answers429WithRetryAfter()
    {
        using var server = new TestServer(configure: o =>
        {
            o.RateLimitPerSecond = 1;
            o.RateLimitBurst = 3;
        });
        var admin = server.Admin();
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 8; i++)
        {
            var r = await admin.GetAsync("/api/v1/queues");
            statuses.Add(r.StatusCode);
            limited = r.StatusCode == HttpStatusCode.TooManyRequests ? r : limited;
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(limited!.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task OpenApi_Document_ListsTheWorkloadRoutesAndTheReferencePageLinksIt()
    {
        var client = _server.CreateClient();
        var doc = await (await client.GetAsync("/openapi/v1.json")).ReadJsonAsync();
        var page = await client.GetStringAsync("/docs");
        Assert.NotNull(doc["paths"]!["/api/v1/workloads"]);
        Assert.NotNull(doc["paths"]!["/api/v1/workloads/{id}/logs"]);
        Assert.Contains("/openapi/v1.json", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Body_OverTheLimitOrNestedTooDeep_Answers4xx()
    {
        using var server = new TestServer(configure: o => o.MaxBodyBytes = 4096);
        var admin = server.Admin();
        var big = await admin.SubmitAsync("{\"name\":\"" + new string('a', 5000) + "\"}");
        var deep = await admin.SubmitAsync(string.Concat(Enumerable.Repeat("{\"a\":", 70)) + "1" + new string('}', 70));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, deep.StatusCode);
    }

    [Fact]
    public async Task Quota_SetByMember_IsForbiddenAndBadKeysAreNamed()
    {
        var admin = _server.Admin();
        var bad = await admin.PutAsync("/api/v1/queues/default/quotas", Http.Json("""{"quotas":{"accelerator/Z9":{"nominal":1000},"cpu":{"nominal":-1}}}"""));
        var fields = (await bad.ReadJsonAsync())["errors"]!.AsArray().Select(e => e!["field"]!.GetValue<string>()).ToList();
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("quotas.accelerator/Z9", fields);
        Assert.Contains("quotas.cpu.nominal", fields);
        var member = _server.Client(await _server.TenantMemberAsync("acme"));
        Assert.Equal(HttpStatusCode.Forbidden, (await member.PutAsync("/api/v1/queues/default/quotas", Http.Json("""{"quotas":{}}"""))).StatusCode);
    }

    [Fact]
    public async Task List_WithCursor_PagesThroughEveryWorkloadOnce()
    {
        var admin = _server.Admin();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await (await admin.SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>());
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await (await admin.GetAsync("/api/v1/workloads?limit=2" + (cursor is null ? "" : "&cursor=" + cursor))).ReadJsonAsync();
            seen.AddRange(page["items"]!.AsArray().Select(w => w!["id"]!.GetValue<string>()));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(ids), seen);
    }
}
