using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Aicc.Server.Api;
using Aicc.Server.Execution;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Tests;

/// <summary>Records launches and stops; tests decide when attempts start and end.</summary>
public sealed class FakeExecutor : IWorkloadExecutor
{
    public List<LaunchPlan> Launched { get; } = [];

    public List<(string Id, int Attempt, string Reason)> Stopped { get; } = [];

    public int RunningCount => Launched.Count;

    public void Launch(LaunchPlan plan)
    {
        lock (Launched)
        {
            Launched.Add(plan);
        }
    }

    public void StopAttempt(string workloadId, int attempt, string reason)
    {
        lock (Stopped)
        {
            Stopped.Add((workloadId, attempt, reason));
        }
    }

    public Task<IReadOnlyList<ActiveAttempt>> ReconcileAsync(IReadOnlyList<ActiveAttempt> active, CancellationToken ct) => Task.FromResult(active);
}

/// <summary>
/// The real host (every middleware, a real SQLite file in a temp directory) through
/// WebApplicationFactory; the loop does not run by itself, tests drive cycles.
/// </summary>
public sealed class TestServer : WebApplicationFactory<TestServer>
{
    private readonly Action<ServerOptions>? _configure;
    private readonly TimeProvider? _time;
    private readonly IWorkloadExecutor? _executor;
    private readonly bool _ownsDataDirectory;

    static TestServer()
    {
        // The host serves no files; point WebApplicationFactory's content root at the test output.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_AICC_SERVER_TESTS", AppContext.BaseDirectory);
    }

    /// <param name="dataDirectory">An existing data directory to start on (a restart); the caller then deletes it.</param>
    /// <param name="time">The clock of the host (a FakeTimeProvider in model-based tests).</param>
    /// <param name="executor">An executor that outlives this host, as processes outlive a restarted server.</param>
    public TestServer(bool realExecutor = false, Action<ServerOptions>? configure = null, string? dataDirectory = null, TimeProvider? time = null, IWorkloadExecutor? executor = null)
    {
        RealExecutor = realExecutor;
        _configure = configure;
        _time = time;
        _executor = executor;
        _ownsDataDirectory = dataDirectory is null;
        DataDirectory = dataDirectory ?? Directory.CreateTempSubdirectory("aicc-test-").FullName;
    }

    public bool RealExecutor { get; }

    public string DataDirectory { get; }

    public FakeExecutor Executor { get; } = new();

    /// <summary>Every log line the host wrote, as formatted text (for the secret and forging checks).</summary>
    public LogCapture Logs { get; } = new();

    /// <summary>Starts the host first: the token file is written during start-up.</summary>
    public string AdminToken
    {
        get
        {
            _ = Services;
            return File.ReadAllText(Path.Combine(DataDirectory, "admin-token")).Trim();
        }
    }

    protected override IHostBuilder CreateHostBuilder()
    {
        var options = new ServerOptions
        {
            DataDirectory = DataDirectory,
            AutoSchedule = false,
            PrintAdminToken = false,
            DetectNvidia = false,
            VirtualNodes = 2,
            VirtualDevicesPerNode = 4,
            KillGraceSeconds = 2,
        };
        _configure?.Invoke(options);
        return AiccServerHost.CreateHostBuilder(options, services =>
        {
            if (_time is not null)
            {
                services.AddSingleton(_time);
            }

            if (!RealExecutor)
            {
                services.AddSingleton(_executor ?? Executor);
            }
        }).ConfigureLogging(logging => logging.AddProvider(Logs));
    }

    /// <summary>Every request of <see cref="Client"/> and <see cref="Admin"/>: what the audit log must hold.</summary>
    public Prove.AuditTally Tally { get; } = new();

    /// <summary>A client with this bearer token (none when null) whose requests are tallied.</summary>
    public HttpClient Client(string? token)
    {
        var client = CreateDefaultClient(new Prove.TallyHandler(Tally));
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public HttpClient Admin() => Client(AdminToken);

    public Task<int> CycleAsync() => Services.GetRequiredService<SchedulingLoop>().RunOnceAsync(CancellationToken.None);

    public T Get<T>()
        where T : notnull => Services.GetRequiredService<T>();

    public AiccDb Db() => Services.CreateScope().ServiceProvider.GetRequiredService<AiccDb>();

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!_ownsDataDirectory)
        {
            return;
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A job process may still hold a file for a moment; the temp directory is cleaned by the OS.
        }
    }
}

public static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonNode> ReadJsonAsync(this HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync()) ?? new JsonObject();

    public static Task<HttpResponseMessage> SubmitAsync(this HttpClient client, string json, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workloads") { Content = Json(json) };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return client.SendAsync(request);
    }

    public static string Job(string command = "[\"true\"]", int pods = 1, int gpus = 1, string queue = "default", int retries = 0, int priority = 0) =>
        $$$"""{"queue":"{{{queue}}}","command":{{{command}}},"maxRetries":{{{retries}}},"priority":{{{priority}}},"podSets":[{"name":"worker","count":{{{pods}}},"cpuMilli":1000,"memoryMiB":1024,"accelerator":{"count":{{{gpus}}}}}]}""";

    /// <summary>Creates a tenant with a member and returns the member's token.</summary>
    public static async Task<string> TenantMemberAsync(this TestServer server, string tenant, string role = "member")
    {
        var admin = server.Admin();
        (await admin.PostAsync("/api/v1/tenants", Json($$"""{"name":"{{tenant}}"}"""))).EnsureSuccessStatusCode();
        (await admin.PostAsync($"/api/v1/tenants/{tenant}/users", Json($$"""{"name":"alice","role":"{{role}}"}"""))).EnsureSuccessStatusCode();
        var token = await (await admin.PostAsync("/api/v1/tokens", Json($$"""{"tenant":"{{tenant}}","user":"alice"}"""))).ReadJsonAsync();
        return token["token"]!.GetValue<string>();
    }

    public static async Task<JsonNode> WaitForStateAsync(this HttpClient client, string id, params string[] states)
    {
        for (var i = 0; i < 300; i++)
        {
            var w = await (await client.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync();
            if (states.Contains(w["state"]!.GetValue<string>()))
            {
                return w;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"workload {id} never reached {string.Join("/", states)}");
    }
}

/// <summary>Keeps every formatted log message of the host in memory.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Sink(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Sink(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (owner._lines.Count < 200_000)
            {
                owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
            }
        }
    }
}
