using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Aicc.Slurm.Tests;

/// <summary>
/// Issue 7's contract: the real <c>aicc server</c> with <c>executor: slurm</c> against the real
/// single-host, four-node Slurm 22.05 of scripts/slurm-dev.sh (8 fake GPUs and 8 CPUs per node).
/// </summary>
public sealed class SlurmExecutorContractTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly SlurmCluster _cluster = new();
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        await _cluster.Server.StartAsync();
        _http = _cluster.Client();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _cluster.DisposeAsync();
    }

    private static JsonArray Sh(string script) => new("sh", "-c", script);

    [Fact]
    public async Task Inventory_ComesFromSlurmNodesWithTheirGres()
    {
        var nodes = JsonNode.Parse(await _http.GetStringAsync("/api/v1/nodes"))!.AsArray();
        Assert.Equal(["node1", "node2", "node3", "node4"], nodes.Select(n => n!["name"]!.GetValue<string>()).Order());
        Assert.All(nodes, n =>
        {
            Assert.Equal("slurm", n!["source"]!.GetValue<string>());
            Assert.Equal(8000, n["cpuMilli"]!.GetValue<long>());
            Assert.Equal(8, n["devices"]!.AsArray().Count);
            Assert.All(n["devices"]!.AsArray(), d => Assert.Equal("H100", d!["model"]!.GetValue<string>()));
        });
    }

    [Fact]
    public async Task NodeDrainedInSlurm_IsCordonedInAiccAndBackWhenResumed()
    {
        async Task<bool> CordonedAsync() =>
            JsonNode.Parse(await _http.GetStringAsync("/api/v1/nodes"))!.AsArray().Single(n => n!["name"]!.GetValue<string>() == "node4")!["cordoned"]!.GetValue<bool>();
        async Task WaitForAsync(bool cordoned)
        {
            for (var i = 0; i < 100 && await CordonedAsync() != cordoned; i++)
            {
                await Task.Delay(200);
            }

            Assert.Equal(cordoned, await CordonedAsync());
        }

        try
        {
            await SlurmCluster.ScontrolAsync("update", "nodename=node4", "state=drain", "reason=aicc-contract-test");
            await WaitForAsync(cordoned: true);
        }
        finally
        {
            await SlurmCluster.ScontrolAsync("update", "nodename=node4", "state=resume");
        }

        await WaitForAsync(cordoned: false);
    }

    [Fact]
    public async Task OneGpuJob_RunsInSlurmWithOneBoundGpu()
    {
        var w = await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job("one-gpu", Sh("echo CVD=$CUDA_VISIBLE_DEVICES RANK=$RANK WORLD_SIZE=$WORLD_SIZE host=$SLURMD_NODENAME"), gpus: 1));
        var id = w["id"]!.GetValue<string>();
        var done = await SlurmCluster.WaitAsync(_http, id, Limit, "Succeeded", "Failed");
        Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
        var log = _cluster.Log(id, 1, "worker-0").Trim();
        Assert.Matches(@"^CVD=\d RANK=0 WORLD_SIZE=1 host=node\d$", log);
        var node = done["placement"]![0]!["node"]!.GetValue<string>();
        Assert.EndsWith("host=" + node, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gang_TwoNodesTimesFourGpus_EachTaskSeesItsRankAndOwnGpus()
    {
        // 8 CPUs per pod fill a node's CPUs, so the two pods land on two nodes.
        var w = await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job(
            "gang",
            Sh("echo RANK=$RANK LOCAL_RANK=$LOCAL_RANK WORLD_SIZE=$WORLD_SIZE NODE_RANK=$NODE_RANK MASTER=$MASTER_ADDR:$MASTER_PORT CVD=$CUDA_VISIBLE_DEVICES host=$SLURMD_NODENAME"),
            pods: 2,
            gpus: 4,
            cpuMilli: 8000));
        var id = w["id"]!.GetValue<string>();
        var done = await SlurmCluster.WaitAsync(_http, id, Limit, "Succeeded", "Failed");
        Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
        var placement = done["placement"]!.AsArray();
        Assert.Equal(2, placement.Select(p => p!["node"]!.GetValue<string>()).Distinct().Count());
        var lines = Enumerable.Range(0, 2).Select(i => _cluster.Log(id, 1, $"worker-{i}").Trim()).ToList();
        for (var i = 0; i < 2; i++)
        {
            var pod = placement.Single(p => p!["index"]!.GetValue<int>() == i)!;
            Assert.Matches($@"^RANK={pod["rank"]} LOCAL_RANK=0 WORLD_SIZE=2 NODE_RANK=[01] MASTER=\S+:\d+ CVD=\d,\d,\d,\d host={pod["node"]}$", lines[i]);
        }

        Assert.Single(lines.Select(l => l.Split(' ')[4]).Distinct());
        Assert.NotEqual(lines[0].Split(' ')[3], lines[1].Split(' ')[3]);
    }

    [Fact]
    public async Task UnevenGang_ThreePodsOnTwoNodes_RunsAsOneHeterogeneousJob()
    {
        var w = await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job("uneven", Sh("echo RANK=$RANK LOCAL_RANK=$LOCAL_RANK/$LOCAL_WORLD_SIZE CVD=$CUDA_VISIBLE_DEVICES host=$SLURMD_NODENAME"), pods: 3, gpus: 4));
        var id = w["id"]!.GetValue<string>();
        var done = await SlurmCluster.WaitAsync(_http, id, Limit, "Succeeded", "Failed");
        Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
        var placement = done["placement"]!.AsArray();
        var ranks = new List<int>();
        foreach (var pod in placement)
        {
            var log = _cluster.Log(id, 1, $"worker-{pod!["index"]}").Trim();
            var sameNode = placement.Count(p => p!["node"]!.GetValue<string>() == pod["node"]!.GetValue<string>());
            Assert.Matches($@"^RANK={pod["rank"]} LOCAL_RANK=\d/{sameNode} CVD=\d,\d,\d,\d host={pod["node"]}$", log);
            ranks.Add(pod["rank"]!.GetValue<int>());
        }

        Assert.Equal([0, 1, 2], ranks.Order());
    }

    [Fact]
    public async Task FailingJob_RecordsItsExitCode()
    {
        var w = await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job("fails", Sh("echo about to fail; exit 3")));
        var done = await SlurmCluster.WaitAsync(_http, w["id"]!.GetValue<string>(), Limit, "Succeeded", "Failed");
        Assert.Equal("Failed", done["state"]!.GetValue<string>());
        Assert.Equal(3, done["exitCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task CancelWhileRunning_EndsTheSlurmJob()
    {
        var w = await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job("cancel-me", Sh("sleep 120")));
        var id = w["id"]!.GetValue<string>();
        await SlurmCluster.WaitAsync(_http, id, Limit, "Running");
        using (var cancel = await _http.PostAsync($"/api/v1/workloads/{id}/cancel", null))
        {
            Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        }

        var done = await SlurmCluster.WaitAsync(_http, id, Limit, "Cancelled", "Failed", "Succeeded");
        Assert.Equal("Cancelled", done["state"]!.GetValue<string>());
        var slurm = await SlurmJobsOfAsync(id);
        Assert.Single(slurm);
        Assert.DoesNotContain(slurm[0]!["job_state"]!.GetValue<string>(), new[] { "RUNNING", "PENDING", "COMPLETING" });
    }

    [Fact]
    public async Task TimeLimit_IsEnforcedToTheSecond()
    {
        var w = await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job("too-long", Sh("sleep 120"), timeLimitSeconds: 3));
        var id = w["id"]!.GetValue<string>();
        var done = await SlurmCluster.WaitAsync(_http, id, Limit, "Failed", "Succeeded", "Cancelled");
        Assert.Equal("Failed", done["state"]!.GetValue<string>());
        Assert.Equal("TimedOut", done["attempts"]![0]!["state"]!.GetValue<string>());
        Assert.Contains("time limit of 3 s", done["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostileSpec_IsRejectedBeforeSlurmSeesIt()
    {
        var job = SlurmCluster.Job("x", new JsonArray("sh", "-c", "echo hi\n#SBATCH --nodelist=node9"));
        job["env"] = new JsonObject { ["A"] = "#SBATCH --exclusive" };
        ((JsonObject)job["podSets"]![0]!)["accelerator"] = new JsonObject { ["count"] = 1, ["milli"] = 500 };
        using var response = await _http.PostAsJsonAsync("/api/v1/workloads", job);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("command[2]", body, StringComparison.Ordinal);
        Assert.Contains("env.A", body, StringComparison.Ordinal);
        Assert.Contains("podSets[0].accelerator.milli", body, StringComparison.Ordinal);
        Assert.Empty(JsonNode.Parse(await _http.GetStringAsync("/api/v1/workloads"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task ServerKilledWhileJobsRun_AdoptsThemAndSubmitsNothingTwice()
    {
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job($"survivor-{i}", Sh("sleep 6; echo done"), gpus: 2)))["id"]!.GetValue<string>());
        }

        foreach (var id in ids)
        {
            await SlurmCluster.WaitAsync(_http, id, Limit, "Running");
        }

        await _cluster.Server.KillAsync();
        await Task.Delay(1000);
        await _cluster.Server.StartAsync();
        _http.Dispose();
        _http = _cluster.Client();
        foreach (var id in ids)
        {
            var done = await SlurmCluster.WaitAsync(_http, id, Limit, "Succeeded", "Failed");
            Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
            Assert.Equal(1, done["attempt"]!.GetValue<int>());
            Assert.Single(await SlurmJobsOfAsync(id));
            Assert.Equal("done", _cluster.Log(id, 1, "worker-0").Trim());
        }
    }

    [Fact]
    public async Task SlurmctldKilledWhileJobsRun_AiccConverges()
    {
        var id = (await SlurmCluster.SubmitAsync(_http, SlurmCluster.Job("through-outage", Sh("sleep 14; echo done"), gpus: 1)))["id"]!.GetValue<string>();
        await SlurmCluster.WaitAsync(_http, id, Limit, "Running");

        // slurmctld writes its job state a few seconds after a change; a SIGKILL before that loses the
        // job in Slurm itself (measured: "Purged files for defunct batch JobId"), which Aicc settles as
        // lost and resubmits. This test is about a job Slurm keeps, so it waits past that window.
        await Task.Delay(6000);
        var pidFile = Path.Combine(SlurmCluster.SlurmDirectory, "run", "slurmctld.pid");
        var pid = int.Parse((await File.ReadAllTextAsync(pidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using (var ctld = System.Diagnostics.Process.GetProcessById(pid))
        {
            ctld.Kill();
            await ctld.WaitForExitAsync();
        }

        await Task.Delay(3000);
        var during = JsonNode.Parse(await _http.GetStringAsync($"/api/v1/workloads/{id}"))!;
        Assert.Equal("Running", during["state"]!.GetValue<string>());
        await SlurmCluster.DevScriptAsync("up");
        var done = await SlurmCluster.WaitAsync(_http, id, TimeSpan.FromSeconds(90), "Succeeded", "Failed");
        Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
        Assert.Equal(1, done["attempt"]!.GetValue<int>());
        Assert.Single(await SlurmJobsOfAsync(id));
    }

    /// <summary>The Slurm job entries (heterogeneous leaders only) whose name carries the workload id.</summary>
    private async Task<List<JsonNode?>> SlurmJobsOfAsync(string workloadId) =>
        [.. (await _cluster.SlurmJobsAsync()).Where(j =>
            j!["name"]!.GetValue<string>().StartsWith($"aicc-{workloadId}-", StringComparison.Ordinal) &&
            (j["het_job_id"]!.GetValue<long>() == 0 || j["het_job_id"]!.GetValue<long>() == j["job_id"]!.GetValue<long>()))];
}

/// <summary>The quickstart's examples, through the CLI, unchanged, on a server whose executor is Slurm.</summary>
public sealed class SlurmQuickstartTests : IAsyncLifetime
{
    private readonly SlurmCluster _cluster = new();
    private readonly string _config = Path.Combine(Path.GetTempPath(), $"aicc-cli-{Guid.NewGuid():N}.json");

    public async ValueTask InitializeAsync() => await _cluster.Server.StartAsync();

    public async ValueTask DisposeAsync()
    {
        File.Delete(_config);
        await _cluster.DisposeAsync();
    }

    private async Task<string> AiccAsync(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aicc.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["AICC_CONFIG"] = _config;
        using var p = System.Diagnostics.Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, $"aicc {string.Join(' ', args)} exited {p.ExitCode}: {await error}");
        return await output;
    }

    [Theory]
    [InlineData("one-gpu", 1)]
    [InlineData("gang-2x4", 2)]
    public async Task Example_RunsUnchanged(string example, int pods)
    {
        await AiccAsync("login", "--server", _cluster.Server.Url, "--token", _cluster.Server.AdminToken);
        var submitted = JsonNode.Parse(await AiccAsync("job", "submit", "-f", Path.Combine(SlurmCluster.RepoRoot, "examples", example + ".yaml"), "-o", "json"))!;
        var logs = await AiccAsync("job", "logs", "-f", submitted["id"]!.GetValue<string>());
        using var http = _cluster.Client();
        var done = await SlurmCluster.WaitAsync(http, submitted["id"]!.GetValue<string>(), TimeSpan.FromSeconds(60), "Succeeded", "Failed");
        Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
        if (pods == 1)
        {
            Assert.Contains("hello from " + submitted["id"], logs, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("RANK=0 WORLD_SIZE=2", logs, StringComparison.Ordinal);
            Assert.Contains("RANK=1 WORLD_SIZE=2", logs, StringComparison.Ordinal);
        }
    }
}
