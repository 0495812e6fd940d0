using System.Text.Json.Nodes;

namespace Aicc.Tests;

/// <summary>
/// The real <c>aicc server</c> process on a free loopback port, driven by the real CLI: login, submit
/// the examples, follow logs, check exit codes and rank variables.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-e2e-").FullName;
    private readonly ServerProcess _server;

    public EndToEndTests()
    {
        _server = new ServerProcess(Path.Combine(_dir, "data"), virtualNodes: 2, devicesPerNode: 4);
    }

    private string Url => _server.Url;

    public async ValueTask InitializeAsync() => await _server.StartAsync();

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

    [Fact]
    public async Task Cli_SubmitExamplesAndFollowLogs_SeesRanksAndExitCodes()
    {
        var token = _server.AdminToken;
        var login = await RunAsync("login", "--server", Url, "--token", token);
        Assert.True(login.Code == 0, login.Output);

        var gang = JsonNode.Parse((await RunAsync("job", "submit", "-f", Path.Combine(Repo.Root, "examples", "gang-2x4.yaml"), "--output", "json")).Output)!;
        var gangLogs = await RunAsync("job", "logs", "-f", gang["id"]!.GetValue<string>());
        Assert.True(gangLogs.Code == 0, gangLogs.Output);
        Assert.Contains("[worker-0] RANK=0 WORLD_SIZE=2", gangLogs.Output, StringComparison.Ordinal);
        Assert.Contains("[worker-1] RANK=1 WORLD_SIZE=2", gangLogs.Output, StringComparison.Ordinal);
        Assert.Contains("MASTER_ADDR=127.0.0.1", gangLogs.Output, StringComparison.Ordinal);

        var half = JsonNode.Parse((await RunAsync("job", "submit", "-f", Path.Combine(Repo.Root, "examples", "fractional.yaml"), "-o", "json")).Output)!;
        var halfLogs = await RunAsync("job", "logs", "-f", half["id"]!.GetValue<string>());
        Assert.True(halfLogs.Code == 0, halfLogs.Output);
        Assert.Contains("share 500 /1000", halfLogs.Output, StringComparison.Ordinal);

        var failing = JsonNode.Parse((await RunAsync("job", "submit", "--gpus", "1", "-o", "json", "--", "sh", "-c", "echo bye; exit 4")).Output)!;
        var failingLogs = await RunAsync("job", "logs", "-f", failing["id"]!.GetValue<string>());
        Assert.Equal(1, failingLogs.Code);
        var got = JsonNode.Parse((await RunAsync("job", "get", failing["id"]!.GetValue<string>(), "-o", "json")).Output)!;
        Assert.Equal(4, got["exitCode"]!.GetValue<int>());

        var badQueue = await RunAsync("job", "submit", "--queue", "nope", "--", "true");
        Assert.Equal(5, badQueue.Code);
        Assert.Contains("queue: no queue named 'nope'", badQueue.Output, StringComparison.Ordinal);
    }

    private async Task<CliProcess.Result> RunAsync(params string[] args) =>
        await CliProcess.RunAsync(args, _dir, new Dictionary<string, string> { ["AICC_CONFIG"] = Path.Combine(_dir, "cli.json") }, timeoutSeconds: 60);
}
