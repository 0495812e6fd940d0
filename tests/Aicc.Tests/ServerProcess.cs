using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Aicc.Tests;

/// <summary>The real <c>aicc server</c> process on a free loopback port, with a data directory of its own.</summary>
internal sealed class ServerProcess(string dataDirectory, int virtualNodes, int devicesPerNode, IReadOnlyDictionary<string, string>? settings = null) : IAsyncDisposable
{
    private Process? _process;

    public int Port { get; } = FreePort();

    public string Url => $"http://127.0.0.1:{Port}";

    public string AdminToken => File.ReadAllText(Path.Combine(dataDirectory, "admin-token")).Trim();

    /// <summary>Starts the server (again, after <see cref="KillAsync"/>) and waits until /readyz answers 200.</summary>
    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dataDirectory)!,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "aicc.dll"), "server", "--urls", Url, "--data-dir", dataDirectory })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["AICC_Aicc__CycleIntervalSeconds"] = "0.2";
        start.Environment["AICC_Aicc__DetectNvidia"] = "false";
        start.Environment["AICC_Aicc__VirtualNodes"] = virtualNodes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["AICC_Aicc__VirtualDevicesPerNode"] = devicesPerNode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment["AICC_Aicc__" + key] = value;
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
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

    /// <summary>SIGKILL of the server alone: the jobs it started live on in their own sessions.</summary>
    public async Task KillAsync()
    {
        _process!.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
