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
        var warmup = new Option<int>("--warmup") { Description = "At most this many jobs run to completion before measuring, in rounds of 1,000 until a round recompiles fewer than 100 methods (0..100000).", DefaultValueFactory = _ => 20_000 };
        var command = new Command("api", "Submit→admitted→started throughput and submit latency of the real server on SQLite.") { jobs, concurrency, policy, warmup };
        command.SetAction(async (parse, ct) =>
        {
            var n = parse.GetValue(jobs);
            var c = parse.GetValue(concurrency);
            var p = parse.GetValue(policy)!;
            var w = parse.GetValue(warmup);
            if (n is < 1 or > 100_000 || c is < 1 or > 256 || w is < 0 or > 100_000)
            {
                await Console.Error.WriteLineAsync("error: --jobs must be 1..100000, --concurrency 1..256 and --warmup 0..100000");
                return ExitCodes.Usage;
            }

            if (Aicc.Scheduling.Framework.PluginRegistry.Resolve(p, out var problems) is null)
            {
                await Console.Error.WriteLineAsync($"error: --policy: {string.Join("; ", problems)}");
                return ExitCodes.Usage;
            }

            var result = await RunAsync(n, c, p, w, ct);
            Console.WriteLine(JsonSerializer.Serialize(result, JsonOutput.Options));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static async Task<Dictionary<string, object>> RunAsync(int jobs, int concurrency, string policy, int warmup, CancellationToken ct)
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

            var scopes = host.Services.GetRequiredService<IServiceScopeFactory>();
            var metrics = host.Services.GetRequiredService<Aicc.Server.Scheduling.ServerMetrics>();
            var writer = host.Services.GetRequiredService<DbWriter>();

            // Warm-up: whole jobs through every path (submit, cycle, start, end) until tiered JIT has
            // recompiled the hot methods; a server's sustained rate is its rate after that. Measured
            // cold, the first 3,000 jobs recompiled 9,565 methods and spent most of their CPU in the JIT.
            // Rounds of 1,000 jobs until one round recompiles fewer than 100 methods, at most --warmup jobs.
            var warmed = 0;
            var round = 0;
            while (warmed < warmup)
            {
                var jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
                var size = Math.Min(warmup - warmed, 1000);
                var prefix = $"warm{round++}-";
                await SubmitAllAsync(http, body, prefix, size, concurrency, ct);
                await WaitStartedAsync(scopes, prefix, size, ct);
                warmed += size;
                var compiled = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore;
                if (!Console.IsErrorRedirected)
                {
                    await Console.Error.WriteLineAsync($"warm-up: {warmed} jobs, {compiled} methods compiled in the last round");
                }

                if (compiled < 100)
                {
                    break;
                }
            }

            var cycles0 = metrics.Cycles;
            var cycleSeconds0 = metrics.CycleSecondsSum;
            var commits0 = writer.Commits;
            var writes0 = writer.Writes;
            var jit0 = System.Runtime.JitInfo.GetCompiledMethodCount();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            var latencies = await SubmitAllAsync(http, body, "job-", jobs, concurrency, ct);
            var submitSeconds = wall.Elapsed.TotalSeconds;
            var started = await WaitStartedAsync(scopes, "job-", jobs, ct);
            var totalSeconds = wall.Elapsed.TotalSeconds;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
            var cycles = metrics.Cycles - cycles0;
            Array.Sort(latencies);
            return new Dictionary<string, object>
            {
                ["jobs"] = jobs,
                ["concurrency"] = concurrency,
                ["policy"] = policy,
                ["warmup_jobs"] = warmed,
                ["started"] = started,
                ["submit_per_s"] = Math.Round(jobs / submitSeconds, 1),
                ["submit_to_started_per_s"] = Math.Round(started / totalSeconds, 1),
                ["p50_submit_ms"] = Math.Round(latencies[(int)(0.50 * (jobs - 1))], 2),
                ["p99_submit_ms"] = Math.Round(latencies[(int)(0.99 * (jobs - 1))], 2),
                ["max_submit_ms"] = Math.Round(latencies[^1], 2),
                ["cpu_ms_per_job"] = Math.Round(cpu.TotalMilliseconds / jobs, 3),
                ["jit_methods"] = System.Runtime.JitInfo.GetCompiledMethodCount() - jit0,
                ["cycles"] = cycles,
                ["avg_cycle_ms"] = Math.Round(cycles == 0 ? 0 : (metrics.CycleSecondsSum - cycleSeconds0) * 1000 / cycles, 2),
                ["cycle_conflicts"] = metrics.Counters.GetValueOrDefault("aicc_cycle_conflicts_total"),
                ["db_commits"] = writer.Commits - commits0,
                ["db_writes"] = writer.Writes - writes0,
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

    /// <summary>Submits <paramref name="count"/> jobs from <paramref name="concurrency"/> clients; returns each one's latency in ms.</summary>
    private static async Task<double[]> SubmitAllAsync(HttpClient http, string body, string prefix, int count, int concurrency, CancellationToken ct)
    {
        var latencies = new double[count];
        var next = -1;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(
            async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    var start = Stopwatch.GetTimestamp();
                    await SubmitAsync(http, body, prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
                    latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            },
            ct));
        await Task.WhenAll(workers);
        return latencies;
    }

    /// <summary>Waits (at most five minutes) until the jobs whose key starts with <paramref name="prefix"/> have started; returns how many did.</summary>
    private static async Task<int> WaitStartedAsync(IServiceScopeFactory scopes, string prefix, int count, CancellationToken ct)
    {
        int started;
        var deadline = Stopwatch.StartNew();
        do
        {
            await Task.Delay(20, ct);
            using var scope = scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
            started = await db.Workloads.CountAsync(w => w.StartedAt != null && w.IdempotencyKey!.StartsWith(prefix), ct);
        }
        while (started < count && deadline.Elapsed < TimeSpan.FromMinutes(5));
        return started;
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
