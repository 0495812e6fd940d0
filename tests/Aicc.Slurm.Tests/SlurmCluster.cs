using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aicc.Tests;

namespace Aicc.Slurm.Tests;

/// <summary>
/// The Slurm that scripts/slurm-dev.sh started (its URL and token file come from AICC_SLURM_URL and
/// AICC_SLURM_TOKEN_FILE, which scripts/ci-slurm.sh exports), and an <c>aicc server</c> process on it.
/// </summary>
internal sealed class SlurmCluster : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-slurm-").FullName;

    public SlurmCluster(Dictionary<string, string>? settings = null)
    {
        Url = Environment.GetEnvironmentVariable("AICC_SLURM_URL") ?? throw new InvalidOperationException("AICC_SLURM_URL is not set: run these tests through scripts/ci-slurm.sh, which starts Slurm");
        TokenFile = Environment.GetEnvironmentVariable("AICC_SLURM_TOKEN_FILE") ?? throw new InvalidOperationException("AICC_SLURM_TOKEN_FILE is not set: run these tests through scripts/ci-slurm.sh");
        User = Environment.GetEnvironmentVariable("AICC_SLURM_USER") ?? "root";
        var all = new Dictionary<string, string>
        {
            ["Executor"] = "slurm",
            ["Slurm__Url"] = Url,
            ["Slurm__User"] = User,
            ["Slurm__TokenFile"] = TokenFile,
            ["Slurm__PollSeconds"] = "0.2",
            ["Slurm__SweepSeconds"] = "2",
            ["KillGraceSeconds"] = "2",
            ["RateLimitPerSecond"] = "100000",
            ["RateLimitBurst"] = "100000",
        };
        foreach (var (k, v) in settings ?? [])
        {
            all[k] = v;
        }

        Server = new ServerProcess(Path.Combine(_dir, "data"), 0, 0, all);
        DataDirectory = Path.Combine(_dir, "data");
    }

    public string Url { get; }

    public string TokenFile { get; }

    public string User { get; }

    public string DataDirectory { get; }

    public ServerProcess Server { get; }

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Aicc.slnx")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
        }
    }

    public static string SlurmDirectory => Environment.GetEnvironmentVariable("AICC_SLURM_DIR") ?? "/tmp/aicc-slurm";

    public HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = new Uri(Server.Url), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Server.AdminToken);
        return http;
    }

    /// <summary>slurmrestd directly, to check what Slurm itself holds.</summary>
    public async Task<JsonArray> SlurmJobsAsync()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, Url.TrimEnd('/') + "/slurm/v0.0.38/jobs");
        request.Headers.Add("X-SLURM-USER-NAME", User);
        request.Headers.Add("X-SLURM-USER-TOKEN", (await File.ReadAllTextAsync(TokenFile)).Trim());
        using var response = await http.SendAsync(request);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["jobs"]!.AsArray();
    }

    /// <summary>Runs scripts/slurm-dev.sh with the arguments (e.g. "up" restarts whatever is down).</summary>
    public static async Task DevScriptAsync(params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepoRoot, "scripts", "slurm-dev.sh"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"slurm-dev.sh {string.Join(' ', args)} exited {p.ExitCode}: {await error}{await output}");
    }

    /// <summary>scontrol on the dev cluster's configuration.</summary>
    public static async Task ScontrolAsync(params string[] args)
    {
        var start = new ProcessStartInfo("scontrol") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["SLURM_CONF"] = Path.Combine(SlurmDirectory, "etc", "slurm.conf");
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var p = Process.Start(start)!;
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"scontrol {string.Join(' ', args)} exited {p.ExitCode}: {await error}");
    }

    public static async Task<JsonNode> SubmitAsync(HttpClient http, JsonObject job)
    {
        using var response = await http.PostAsJsonAsync("/api/v1/workloads", job);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"submit answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public static JsonObject Job(string name, JsonArray command, int pods = 1, int gpus = 0, int cpuMilli = 1000, int timeLimitSeconds = 0) => new()
    {
        ["name"] = name,
        ["queue"] = "default",
        ["command"] = command,
        ["timeLimitSeconds"] = timeLimitSeconds,
        ["podSets"] = new JsonArray(new JsonObject
        {
            ["name"] = "worker",
            ["count"] = pods,
            ["cpuMilli"] = cpuMilli,
            ["memoryMiB"] = 256,
            ["accelerator"] = gpus == 0 ? null : new JsonObject { ["count"] = gpus },
        }),
    };

    /// <summary>Polls the workload until it is in one of the states (bounded).</summary>
    public static async Task<JsonNode> WaitAsync(HttpClient http, string id, TimeSpan limit, params string[] states)
    {
        var deadline = DateTime.UtcNow + limit;
        JsonNode? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = JsonNode.Parse(await http.GetStringAsync($"/api/v1/workloads/{id}"))!;
            if (states.Contains(last["state"]!.GetValue<string>()))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{id} not in {string.Join('/', states)} after {limit.TotalSeconds} s: {last?.ToJsonString()}");
    }

    public string Log(string id, int attempt, string pod) =>
        File.ReadAllText(Path.Combine(DataDirectory, "jobs", id, $"attempt-{attempt}", pod + ".out"));

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Slurm may still be writing a file of a cancelled job.
        }
    }
}
