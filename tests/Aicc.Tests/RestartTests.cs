using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Aicc.Tests;

/// <summary>
/// SIGKILL of the real <c>aicc server</c> while jobs run, then a restart on the same data directory:
/// a job that ended while the server was down is settled with its real exit code, a job still running
/// is adopted and its exit code read when it ends, and a long one can still be cancelled. No job runs
/// a second attempt.
/// </summary>
public sealed class RestartTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-restart-").FullName;
    private readonly ServerProcess _server;

    public RestartTests()
    {
        _server = new ServerProcess(Path.Combine(_dir, "data"), virtualNodes: 1, devicesPerNode: 4);
    }

    [Fact]
    public async Task Server_KilledWhileJobsRun_SettlesAdoptsAndCancelsWithoutRerunning()
    {
        await _server.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(_server.Url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _server.AdminToken);

        var endsWhileDown = await SubmitAsync(http, "sleep 1; exit 0");
        var endsAfterRestart = await SubmitAsync(http, "sleep 4; exit 7");
        var runsOn = await SubmitAsync(http, "sleep 60");
        foreach (var id in new[] { endsWhileDown, endsAfterRestart, runsOn })
        {
            await WaitForStateAsync(http, id, "Running");
        }

        await _server.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));

        await _server.StartAsync();
        var settled = await WaitForStateAsync(http, endsWhileDown, "Succeeded");
        Assert.Equal(0, settled["exitCode"]!.GetValue<int>());
        var adopted = await WaitForStateAsync(http, endsAfterRestart, "Failed");
        Assert.Equal(7, adopted["exitCode"]!.GetValue<int>());
        Assert.Equal("Running", (await GetAsync(http, runsOn))["state"]!.GetValue<string>());

        using var cancel = await http.PostAsync($"/api/v1/workloads/{runsOn}/cancel", null);
        Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        await WaitForStateAsync(http, runsOn, "Cancelled");

        foreach (var id in new[] { endsWhileDown, endsAfterRestart, runsOn })
        {
            var job = await GetAsync(http, id);
            Assert.True(job["attempt"]!.GetValue<int>() == 1, $"{id} ran {job["attempt"]} attempts: {job}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }

    private static async Task<string> SubmitAsync(HttpClient http, string script)
    {
        var body = new JsonObject
        {
            ["queue"] = "default",
            ["command"] = new JsonArray("sh", "-c", script),
            ["maxRetries"] = 0,
            ["podSets"] = new JsonArray(new JsonObject { ["count"] = 1, ["cpuMilli"] = 100, ["memoryMiB"] = 64, ["accelerator"] = new JsonObject { ["count"] = 1 } }),
        };
        using var response = await http.PostAsJsonAsync("/api/v1/workloads", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!["id"]!.GetValue<string>();
    }

    private static async Task<JsonNode> GetAsync(HttpClient http, string id) =>
        JsonNode.Parse(await http.GetStringAsync($"/api/v1/workloads/{id}"))!;

    private static async Task<JsonNode> WaitForStateAsync(HttpClient http, string id, string state)
    {
        JsonNode job = new JsonObject();
        for (var i = 0; i < 300; i++)
        {
            job = await GetAsync(http, id);
            if (job["state"]!.GetValue<string>() == state)
            {
                return job;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{id} did not reach {state} in 30 s: {job}");
    }
}
