using System.Net;

namespace Aicc.Server.Tests;

/// <summary>Real child processes through posix_spawn; the loop runs by itself here.</summary>
public sealed class LocalExecutorTests : IDisposable
{
    private readonly TestServer _server = new(realExecutor: true, configure: o =>
    {
        o.AutoSchedule = true;
        o.CycleIntervalSeconds = 0.1;
    });

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task Run_ShellMetacharacters_ReachTheProgramAsPlainArguments()
    {
        var admin = _server.Admin();
        var job = Http.Job(command: """["printf", "%s|", "a;b", "$(id)", "`x`", "c && d", "\n#SBATCH --x"]""");
        var id = (await (await admin.SubmitAsync(job)).ReadJsonAsync())["id"]!.GetValue<string>();
        var w = await admin.WaitForStateAsync(id, "Succeeded", "Failed");
        var logs = await admin.GetStringAsync($"/api/v1/workloads/{id}/logs");
        Assert.Equal("Succeeded", w["state"]!.GetValue<string>());
        Assert.Equal("a;b|$(id)|`x`|c && d|\n#SBATCH --x|\n", logs);
    }

    [Fact]
    public async Task Run_GangOfTwo_GetsTorchrunVariablesAndItsOwnDevices()
    {
        var admin = _server.Admin();
        var job = Http.Job(command: """["sh", "-c", "echo RANK=$RANK WORLD_SIZE=$WORLD_SIZE LOCAL_RANK=$LOCAL_RANK MASTER_ADDR=$MASTER_ADDR CUDA=$CUDA_VISIBLE_DEVICES MARK=${AICC_MARKER:+set}"]""", pods: 2, gpus: 2);
        var id = (await (await admin.SubmitAsync(job)).ReadJsonAsync())["id"]!.GetValue<string>();
        await admin.WaitForStateAsync(id, "Succeeded", "Failed");
        var logs = await admin.GetStringAsync($"/api/v1/workloads/{id}/logs");
        Assert.Contains("[worker-0] RANK=0 WORLD_SIZE=2", logs, StringComparison.Ordinal);
        Assert.Contains("[worker-1] RANK=1 WORLD_SIZE=2", logs, StringComparison.Ordinal);
        Assert.Contains("MASTER_ADDR=127.0.0.1", logs, StringComparison.Ordinal);
        Assert.Contains("MARK=set", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_FailingProgramWithRetries_RunsAgainThenFailsWithItsExitCode()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(command: """["sh", "-c", "echo attempt $AICC_ATTEMPT; exit 3"]""", retries: 1))).ReadJsonAsync())["id"]!.GetValue<string>();
        var w = await admin.WaitForStateAsync(id, "Failed");
        Assert.Equal(3, w["exitCode"]!.GetValue<int>());
        Assert.Equal(2, w["attempt"]!.GetValue<int>());
        Assert.Equal("attempt 2\n", await admin.GetStringAsync($"/api/v1/workloads/{id}/logs"));
    }

    [Fact]
    public async Task Cancel_RunningProcess_IsTerminatedAndEndsCancelled()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(command: """["sleep", "60"]"""))).ReadJsonAsync())["id"]!.GetValue<string>();
        await admin.WaitForStateAsync(id, "Running");
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/v1/workloads/{id}/cancel", null)).StatusCode);
        var w = await admin.WaitForStateAsync(id, "Cancelled");
        Assert.Equal("Cancelled", w["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Run_MissingProgram_FailsWithExitCode127AndAClearReason()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(command: """["no-such-program-aicc"]"""))).ReadJsonAsync())["id"]!.GetValue<string>();
        var w = await admin.WaitForStateAsync(id, "Failed");
        Assert.Equal(127, w["exitCode"]!.GetValue<int>());
        Assert.Contains("not found", w["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_Follow_StreamsUntilTheJobEnds()
    {
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(command: """["sh", "-c", "echo one; sleep 0.5; echo two"]"""))).ReadJsonAsync())["id"]!.GetValue<string>();
        var logs = await admin.GetStringAsync($"/api/v1/workloads/{id}/logs?follow=true");
        Assert.Equal("one\ntwo\n", logs);
    }

    [Fact]
    public async Task Logs_FollowAskedBeforeTheFirstAttemptOfAJobThatHasSinceEnded_SendsItsOutput()
    {
        // The race the end-to-end test met: the request saw the job pending (attempt 0), and by its
        // first poll the job had been admitted, run and ended.
        var admin = _server.Admin();
        var id = (await (await admin.SubmitAsync(Http.Job(command: """["sh", "-c", "echo quick"]"""))).ReadJsonAsync())["id"]!.GetValue<string>();
        await admin.WaitForStateAsync(id, "Succeeded");
        using var output = new MemoryStream();
        await Aicc.Server.Api.LogStreamer.StreamAsync(
            output, id, attempt: 0, podFilter: null, follow: true, _server.Get<Aicc.Server.Hosting.ServerContext>(),
            _server.Get<Microsoft.Extensions.DependencyInjection.IServiceScopeFactory>(), TestContext.Current.CancellationToken);
        Assert.Equal("quick\n", System.Text.Encoding.UTF8.GetString(output.ToArray()));
    }
}
