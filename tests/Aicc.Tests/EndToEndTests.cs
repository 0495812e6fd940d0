using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Aicc.Tests;

/// <summary>
/// The real <c>aicc server</c> process on a free loopback port, driven by the real CLI: login, submit
/// the examples, follow logs, check exit codes and rank variables.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-e2e-").FullName;
    private readonly int _port = FreePort();
    private Process? _server;

    private string Url => $"http://127.0.0.1:{_port}";

    public async ValueTask InitializeAsync()
    {
        var start = Start("server", "--urls", Url, "--data-dir", Path.Combine(_dir, "data"));
        start.Environment["AICC_Aicc__CycleIntervalSeconds"] = "0.2";
        start.Environment["AICC_Aicc__DetectNvidia"] = "false";
        start.Environment["AICC_Aicc__VirtualNodes"] = "2";
        start.Environment["AICC_Aicc__VirtualDevicesPerNode"] = "4";
        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        using var http = new HttpClient();
        for (var i = 0; i < 600; i++)
        {
            try
            {
                if ((await http.GetAsync(Url + "/readyz")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("aicc server did not become ready in 60 s");
    }

    public ValueTask DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit(5000);
        }

        _server?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }

        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Cli_SubmitExamplesAndFollowLogs_SeesRanksAndExitCodes()
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(_dir, "data", "admin-token"))).Trim();
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

    private ProcessStartInfo Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _dir,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aicc.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["AICC_CONFIG"] = Path.Combine(_dir, "cli.json");
        return start;
    }

    private async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var process = Process.Start(Start(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
