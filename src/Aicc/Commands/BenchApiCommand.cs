using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Commands;

/// <summary>
/// <c>aicc bench api</c>: a real server (Kestrel on loopback, SQLite in a temp directory) takes N
/// submissions from C concurrent clients; every job is admitted, started and finished by a no-op
/// executor. Reports sustained submit→started throughput and submit latency percentiles.
/// </summary>
internal static class BenchApiCommand
{
    public static Command Create()
    {
        var jobs = new Option<int>("--jobs") { Description = "Jobs to submit (1..100000).", DefaultValueFactory = _ => 2000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent clients (1..256).", DefaultValueFactory = _ => 8 };
        var policy = new Option<string>("--policy") { Description = "Placement policy of the server (a built-in name).", DefaultValueFactory = _ => "aicc" };
        var command = new Command("api", "Submit→admitted→started throughput and submit latency of the real server on SQLite.") { jobs, concurrency, policy };
        command.SetAction(async (parse, ct) =>
        {
            var n = parse.GetValue(jobs);
            var c = parse.GetValue(concurrency);
            var p = parse.GetValue(policy)!;
            if (n is < 1 or > 100_000 || c is < 1 or > 256)
            {
                await Console.Error.WriteLineAsync("error: --jobs must be 1..100000 and --concurrency 1..256");
                return ExitCodes.Usage;
            }

            if (Aicc.Scheduling.Framework.PluginRegistry.Resolve(p, out var problems) is null)
            {
                await Console.Error.WriteLineAsync($"error: --policy: {string.Join("; ", problems)}");
                return ExitCodes.Usage;
            }

            var result = await RunAsync(n, c, p, ct);
            Console.WriteLine(JsonSerializer.Serialize(result, JsonOutput.Options));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<Dictionary<string, object>> RunAsync(int jobs, int concurrency, string policy, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("aicc-bench-").FullName;
        var port = FreePort();
        var options = new ServerOptions
        {
            Urls = $"http://127.0.0.1:{port}",
            DataDirectory = dir,
            Executor = "none",
            PrintAdminToken = false,
            DetectNvidia = false,
            VirtualNodes = 64,
            VirtualDevicesPerNode = 8,
            RateLimitPerSecond = 1_000_000,
            RateLimitBurst = 1_000_000,
            CycleIntervalSeconds = 0.05,
            Policy = policy,
        };
        var builder = AiccServerHost.CreateHostBuilder(options).ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        using var host = builder.Build();
        await host.StartAsync(ct);
        try
        {
            var token = (await File.ReadAllTextAsync(Path.Combine(dir, "admin-token"), ct)).Trim();
            using var http = new HttpClient { BaseAddress = new Uri(options.Urls) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            const string body = """{"queue":"default","command":["true"],"podSets":[{"count":1,"cpuMilli":100,"memoryMiB":64,"accelerator":{"count":1}}]}""";

            // Warm-up: JIT, connection pool, the validator cache.
            for (var i = 0; i < 50; i++)
            {
                await SubmitAsync(http, body, $"warm-{i}", ct);
            }

            var latencies = new double[jobs];
            var next = -1;
            var wall = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(
                async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < jobs)
                    {
                        var start = Stopwatch.GetTimestamp();
                        await SubmitAsync(http, body, $"job-{i}", ct);
                        latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    }
                },
                ct)).ToList();
            await Task.WhenAll(workers);
            var submitSeconds = wall.Elapsed.TotalSeconds;
            var scopes = host.Services.GetRequiredService<IServiceScopeFactory>();
            int started;
            var deadline = Stopwatch.StartNew();
            do
            {
                await Task.Delay(20, ct);
                using var scope = scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
                started = await db.Workloads.CountAsync(w => w.StartedAt != null && w.IdempotencyKey!.StartsWith("job-"), ct);
            }
            while (started < jobs && deadline.Elapsed < TimeSpan.FromMinutes(5));

            var totalSeconds = wall.Elapsed.TotalSeconds;
            var metrics = host.Services.GetRequiredService<Aicc.Server.Scheduling.ServerMetrics>();
            var writer = host.Services.GetRequiredService<DbWriter>();
            Array.Sort(latencies);
            return new Dictionary<string, object>
            {
                ["jobs"] = jobs,
                ["concurrency"] = concurrency,
                ["policy"] = policy,
                ["started"] = started,
                ["submit_per_s"] = Math.Round(jobs / submitSeconds, 1),
                ["submit_to_started_per_s"] = Math.Round(started / totalSeconds, 1),
                ["p50_submit_ms"] = Math.Round(latencies[(int)(0.50 * (jobs - 1))], 2),
                ["p99_submit_ms"] = Math.Round(latencies[(int)(0.99 * (jobs - 1))], 2),
                ["max_submit_ms"] = Math.Round(latencies[^1], 2),
                ["cycles"] = metrics.Cycles,
                ["avg_cycle_ms"] = Math.Round(metrics.Cycles == 0 ? 0 : metrics.CycleSecondsSum * 1000 / metrics.Cycles, 2),
                ["cycle_conflicts"] = metrics.Counters.GetValueOrDefault("aicc_cycle_conflicts_total"),
                ["db_commits"] = writer.Commits,
                ["db_writes"] = writer.Writes,
                ["wall_s"] = Math.Round(totalSeconds, 3),
            };
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS.
            }
        }
    }

    private static async Task SubmitAsync(HttpClient http, string body, string key, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workloads") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"submit {key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
