using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Aicc.Prove;
using Aicc.Server.Api;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// S3 of issue 6: hostile bodies, numbers, strings and names against the write endpoints. Every answer
/// is a 4xx or a success; a rejection leaves the database as it was; an accepted command reaches the
/// program byte for byte; the server's memory stays bounded.
/// </summary>
public sealed class HostileInputSuiteTests : IDisposable
{
    // A larger body limit lets the 10^6-element arrays reach the parser and validator instead of the
    // limit. The loop does not run by itself, so a changed database can only come from a request.
    private readonly TestServer _server = new(realExecutor: true, configure: o =>
    {
        o.MaxBodyBytes = 8 << 20;
        o.RateLimitPerSecond = 100_000;
        o.RateLimitBurst = 100_000;
    });

    public void Dispose() => _server.Dispose();

    private enum Expect
    {
        Reject,
        Accept,
        NoServerError,
    }

    [Fact]
    public async Task S3_HostileInputs_Answer4xxStoreNothingInvalidAndKeepArgv()
    {
        var figures = await RunAsync(_server);
        var report = new ProveReport("S3", 0);
        foreach (var (k, v) in figures.Numbers)
        {
            report.Set(k, v);
        }

        report.Emit(figures.Failures.Count == 0);
        Assert.True(figures.Failures.Count == 0, string.Join("\n", figures.Failures));
        Assert.Equal(0, figures.Numbers["server_errors"]);
        Assert.True(figures.Numbers["cases"] > 150, "too few hostile cases ran to mean anything");
    }

    public static async Task<SuiteFigures> RunAsync(TestServer server)
    {
        var result = new SuiteFigures();
        var admin = server.Client(server.AdminToken);
        (await admin.PostAsync("/api/v1/tenants", Http.Json("{\"name\":\"hostile\"}"))).EnsureSuccessStatusCode();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var cases = new List<(string Label, Expect Expect, Func<Task<HttpResponseMessage>> Send)>();

        HttpRequestMessage Post(string path, string json) => new(HttpMethod.Post, path) { Content = Http.Json(json) };
        void Add(string label, Expect expect, string path, string json) => cases.Add((label, expect, () => admin.SendAsync(Post(path, json))));
        static string Job(Action<JsonObject> change)
        {
            var job = JsonNode.Parse(Http.Job())!.AsObject();
            change(job);
            return job.ToJsonString();
        }

        // Sizes and shapes.
        Add("body over the limit", Expect.Reject, "/api/v1/workloads", "{\"name\":\"" + new string('a', 9 << 20) + "\"}");
        Add("JSON nested 65 deep", Expect.Reject, "/api/v1/workloads", "{\"command\":" + new string('[', 65) + new string(']', 65) + "}");
        Add("10^6 command arguments", Expect.Reject, "/api/v1/workloads", Job(j => j["command"] = "__many__").Replace("\"__many__\"", "[" + string.Join(',', Enumerable.Repeat("\"a\"", 1_000_000)) + "]", StringComparison.Ordinal));
        Add("10^6 pod sets", Expect.Reject, "/api/v1/workloads", "{\"queue\":\"default\",\"command\":[\"true\"],\"podSets\":[" + string.Join(',', Enumerable.Repeat("{}", 1_000_000)) + "]}");
        Add("10^6 accelerator models", Expect.Reject, "/api/v1/workloads", Job(j => j["podSets"]![0]!["accelerator"]!["models"] = "__many__").Replace("\"__many__\"", "[" + string.Join(',', Enumerable.Repeat("\"m\"", 1_000_000)) + "]", StringComparison.Ordinal));
        Add("not JSON", Expect.Reject, "/api/v1/workloads", "{\"queue\":");
        Add("JSON null", Expect.Reject, "/api/v1/workloads", "null");
        Add("JSON array", Expect.Reject, "/api/v1/workloads", "[]");

        // Numbers at and past the edges of every numeric field.
        string[] numeric = ["priority", "timeLimitSeconds", "maxRetries", "podSets.0.count", "podSets.0.minCount", "podSets.0.cpuMilli", "podSets.0.memoryMiB", "accelerator.count", "accelerator.milli", "accelerator.memoryMiB", "accelerator.minScuMilli"];
        string[] values = ["-1", "0", "2147483647", "9223372036854775808", "1e309", "1.5", "\"7\""];
        foreach (var field in numeric)
        {
            foreach (var value in values)
            {
                var json = SetNumber(field, value);
                var expect = value switch
                {
                    "9223372036854775808" or "1e309" or "1.5" or "\"7\"" => Expect.Reject,
                    "-1" when field != "priority" && field != "podSets.0.minCount" => Expect.Reject,
                    _ => Expect.NoServerError,
                };
                Add($"{field} = {value}", expect, "/api/v1/workloads", json);
            }
        }

        // Strings: control, bidi and zero-width characters, 10 KB, traversal, in every name.
        string[] hostile = ["a\0b", "a\r\nb", "a\nFORGED", "abc\u202Edef", "ab\u200Bcd", new string('n', 10 * 1024), "../etc", "..%2fetc", "%2e%2e%2f", "a/b", "a\\b", "", " ", "A"];
        foreach (var s in hostile)
        {
            var label = Printable(s);
            Add($"workload name {label}", Expect.Reject, "/api/v1/workloads", Job(j => j["name"] = s));
            Add($"queue {label}", Expect.Reject, "/api/v1/workloads", Job(j => j["queue"] = s));
            Add($"pod set name {label}", Expect.Reject, "/api/v1/workloads", Job(j => j["podSets"]![0]!["name"] = s));
            Add($"tenant name {label}", Expect.Reject, "/api/v1/tenants", new JsonObject { ["name"] = s }.ToJsonString());
            Add($"user name {label}", Expect.Reject, "/api/v1/tenants/hostile/users", new JsonObject { ["name"] = s }.ToJsonString());
            Add($"queue name {label}", Expect.Reject, "/api/v1/queues", new JsonObject { ["tenant"] = "hostile", ["name"] = s }.ToJsonString());
            Add($"env name {label}", s == "A" ? Expect.Accept : Expect.Reject, "/api/v1/workloads", Job(j => j["env"] = new JsonObject { [s.Length == 0 ? "\u0000" : s] = "v" }));
            Add($"token description {label}", s.Any(char.IsControl) || s.Length > 200 ? Expect.Reject : Expect.NoServerError, "/api/v1/tokens", new JsonObject { ["description"] = s }.ToJsonString());
        }

        Add("command with NUL", Expect.Reject, "/api/v1/workloads", Job(j => j["command"] = new JsonArray("echo", "a\0b")));
        Add("command argument of 10 KB", Expect.Reject, "/api/v1/workloads", Job(j => j["command"] = new JsonArray("echo", new string('x', 10 * 1024))));
        Add("empty program", Expect.Reject, "/api/v1/workloads", Job(j => j["command"] = new JsonArray("")));
        Add("env value with NUL", Expect.Reject, "/api/v1/workloads", Job(j => j["env"] = new JsonObject { ["A"] = "x\0y" }));
        Add("reserved env", Expect.Reject, "/api/v1/workloads", Job(j => j["env"] = new JsonObject { ["LD_PRELOAD"] = "/tmp/x.so" }));

        // Traversal and oddities in paths and queries.
        foreach (var path in new[]
        {
            "/api/v1/workloads/..%2f..%2fetc%2fpasswd", "/api/v1/workloads/%2e%2e", "/api/v1/tenants/..%2f..%2f", "/api/v1/workloads?cursor=%00%ff",
            "/api/v1/workloads?limit=-1", "/api/v1/workloads?limit=2147483648", "/api/v1/workloads?state=%0d%0aFORGED", "/api/v1/usage?from=yesterday",
            "/api/v1/tenants/" + new string('t', 10 * 1024),
        })
        {
            cases.Add(($"GET {Printable(path)}", Expect.NoServerError, () => admin.GetAsync(path)));
        }

        cases.Add(("Idempotency-Key of 10 KB", Expect.Reject, () =>
        {
            var request = Post("/api/v1/workloads", Http.Job());
            request.Headers.Add("Idempotency-Key", new string('k', 10 * 1024));
            return admin.SendAsync(request);
        }
        ));

        var serverErrors = 0;
        foreach (var (label, expect, send) in cases)
        {
            var before = ApiMatrix.Fingerprint(server);
            HttpResponseMessage response;
            try
            {
                response = await send();
            }
            catch (HttpRequestException e)
            {
                result.Failures.Add($"{label}: the connection failed: {e.Message}");
                continue;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                if (status >= 500)
                {
                    serverErrors++;
                    result.Failures.Add($"{label}: {status} {await response.Content.ReadAsStringAsync()}");
                }
                else if (expect == Expect.Reject && status < 400)
                {
                    result.Failures.Add($"{label}: accepted with {status}; it must be rejected");
                }
                else if (expect == Expect.Accept && status >= 400)
                {
                    result.Failures.Add($"{label}: rejected with {status}: {await response.Content.ReadAsStringAsync()}");
                }

                if (status >= 400 && ApiMatrix.Fingerprint(server) != before)
                {
                    result.Failures.Add($"{label}: rejected with {status} but the database changed");
                }
            }
        }

        // Shell metacharacters, CR/LF and #SBATCH in a command are plain arguments: stored and run as given.
        string[] argv = ["printf", "%s|", "a;b", "x|y", "$(id)", "`id`", "$HOME", "c && d", "\n#SBATCH --wrap=evil", "e\r\nf", "\u202Ertl", "z\u200Bw"];
        var accepted = await admin.SubmitAsync(Job(j => j["command"] = new JsonArray([.. argv.Select(a => (JsonNode?)a)])));
        var acceptedText = await accepted.Content.ReadAsStringAsync();
        var argvExact = 0;
        if (accepted.StatusCode != HttpStatusCode.Created)
        {
            result.Failures.Add($"a command with metacharacters was refused: {acceptedText}");
        }
        else
        {
            var id = JsonNode.Parse(acceptedText)!["id"]!.GetValue<string>();
            await RunUntilEndedAsync(server, admin, id);
            var logs = await admin.GetStringAsync($"/api/v1/workloads/{id}/logs");
            var expected = string.Concat(argv.Skip(2).Select(a => a + "|"));
            await using var db = server.Db();
            var stored = System.Text.Json.JsonSerializer.Deserialize<JobSpec>((await db.Workloads.SingleAsync(w => w.Id == id)).SpecJson, JsonBody.Options)!;
            if (logs.TrimEnd('\n') == expected && stored.Command!.SequenceEqual(argv))
            {
                argvExact = 1;
            }
            else
            {
                result.Failures.Add($"argv changed on its way: stored [{string.Join(",", stored.Command!.Select(Printable))}], printed '{Printable(logs)}'");
            }
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var growthMiB = (GC.GetTotalMemory(forceFullCollection: true) - memoryBefore) / (1024.0 * 1024.0);
        if (growthMiB > 256)
        {
            result.Failures.Add($"managed memory grew by {growthMiB:F0} MiB over the hostile traffic");
        }

        result.Numbers["cases"] = cases.Count + 1;
        result.Numbers["server_errors"] = serverErrors;
        result.Numbers["argv_exact"] = argvExact;
        result.Numbers["memory_growth_mib"] = (long)Math.Round(growthMiB);
        return result;
    }

    /// <summary>Drives scheduling cycles until the workload has ended (the loop is off in this suite).</summary>
    private static async Task RunUntilEndedAsync(TestServer server, HttpClient client, string id)
    {
        for (var i = 0; i < 200; i++)
        {
            await server.CycleAsync();
            var state = (await (await client.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync())["state"]!.GetValue<string>();
            if (state is "Succeeded" or "Failed" or "Cancelled")
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"workload {id} did not end within 200 cycles");
    }

    private static string SetNumber(string field, string value)
    {
        var job = JsonNode.Parse(Http.Job())!.AsObject();
        const string Marker = "\"__n__\"";
        var parts = field.Split('.');
        JsonObject target = parts[0] switch
        {
            "podSets" => job["podSets"]![0]!.AsObject(),
            "accelerator" => job["podSets"]![0]!["accelerator"]!.AsObject(),
            _ => job,
        };
        target[parts[^1]] = "__n__";
        return job.ToJsonString().Replace(Marker, value, StringComparison.Ordinal);
    }

    private static string Printable(string s)
    {
        var clipped = s.Length > 40 ? s[..40] + $"…({s.Length})" : s;
        var b = new StringBuilder();
        foreach (var c in clipped)
        {
            b.Append(c is < ' ' or '\u202E' or '\u200B' ? $"\\u{(int)c:X4}" : c.ToString());
        }

        return b.Length == 0 ? "(empty)" : b.ToString();
    }
}
