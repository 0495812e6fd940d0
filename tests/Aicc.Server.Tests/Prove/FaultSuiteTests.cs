using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Aicc.Prove;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// R6 (job processes die) and R5 (another process holds the database) of issue 6, on the in-process
/// host with the real local executor and the real SQLite file.
/// </summary>
public sealed class FaultSuiteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-prove-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS.
        }
    }

    [Fact]
    public async Task R6_KilledFailingAndStoppedJobProcesses_AreDetectedReleasedAndLeaveNoOrphans()
    {
        using var server = new TestServer(realExecutor: true, configure: o =>
        {
            o.AutoSchedule = true;
            o.CycleIntervalSeconds = 0.1;
            o.VirtualNodes = 4;
            o.VirtualDevicesPerNode = 8;
        });
        var admin = server.Admin();
        var kills = ProveReport.Pick(20, 40);

        // Half run their program with exec (the program is the shim's child), half leave a grandchild behind.
        var killed = new List<string>();
        for (var i = 0; i < kills; i++)
        {
            var script = i % 2 == 0 ? "echo $$ > \"$0/$AICC_JOB_ID.$AICC_ATTEMPT\"; exec sleep 300" : "echo $$ > \"$0/$AICC_JOB_ID.$AICC_ATTEMPT\"; sleep 300; true";
            killed.Add(await SubmitAsync(admin, ["sh", "-c", script, _dir], retries: 1));
        }

        var exit1 = await SubmitAsync(admin, ["sh", "-c", "exit 1"], retries: 0);
        var exit137 = await SubmitAsync(admin, ["sh", "-c", "kill -9 $$"], retries: 0);
        var stopped = await SubmitAsync(admin, ["sh", "-c", "kill -STOP $$"], retries: 0, timeLimit: 2);

        var metrics = server.Get<ServerMetrics>();
        var detectCycles = new List<long>();
        var detectMs = new List<double>();
        for (var round = 1; round <= 2; round++)
        {
            foreach (var id in killed)
            {
                var pid = await WaitForPidAsync(id, round);
                var cyclesAtKill = metrics.Cycles;
                var clock = Stopwatch.StartNew();
                Process.GetProcessById(pid).Kill();
                for (var i = 0; i < 600; i++)
                {
                    var w = await (await admin.GetAsync($"/api/v1/workloads/{id}")).ReadJsonAsync();
                    var state = w["state"]!.GetValue<string>();
                    if ((round == 1 && w["attempt"]!.GetValue<int>() >= 2) || (round == 2 && state is "Failed" or "Succeeded"))
                    {
                        break;
                    }

                    await Task.Delay(10);
                }

                detectCycles.Add(metrics.Cycles - cyclesAtKill);
                detectMs.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        var failures = new List<string>();
        foreach (var (id, code) in new[] { (exit1, 1), (exit137, 137) })
        {
            var w = await admin.WaitForStateAsync(id, "Failed", "Succeeded");
            if (w["state"]!.GetValue<string>() != "Failed" || w["exitCode"]?.GetValue<int>() != code)
            {
                failures.Add($"{id}: expected Failed with exit code {code}, got {w["state"]} {w["exitCode"]}");
            }
        }

        var timed = await admin.WaitForStateAsync(stopped, "Failed", "Succeeded", "Cancelled");
        if (timed["state"]!.GetValue<string>() != "Failed" || !(timed["reason"]?.GetValue<string>() ?? "").Contains("time limit", StringComparison.Ordinal))
        {
            failures.Add($"the stopped job ended as {timed["state"]} ({timed["reason"]}), not as over its time limit");
        }

        var attemptsOverMax = 0;
        foreach (var id in killed)
        {
            var w = await admin.WaitForStateAsync(id, "Failed", "Succeeded");
            if (w["attempt"]!.GetValue<int>() > 2)
            {
                attemptsOverMax++;
            }

            if (w["state"]!.GetValue<string>() != "Failed" || w["exitCode"]?.GetValue<int>() != 137)
            {
                failures.Add($"{id}: killed twice with one retry, yet ended {w["state"]} with {w["exitCode"]}");
            }
        }

        await Task.Delay(300);
        var nodes = await (await admin.GetAsync("/api/v1/nodes")).ReadJsonAsync();
        var stillAllocated = nodes.AsArray().Sum(n => n!["allocatedAcceleratorMilli"]!.GetValue<long>());
        var ids = killed.Append(exit1).Append(exit137).Append(stopped).ToHashSet(StringComparer.Ordinal);
        var orphans = await OrphansAsync(ids);

        detectMs.Sort();
        var report = new ProveReport("R6", 0)
            .Set("kills", detectMs.Count)
            .Set("exit_code_jobs", 2)
            .Set("stopped_past_limit", 1)
            .Set("detect_cycles_max", detectCycles.Max())
            .Set("detect_ms_p50", Math.Round(detectMs[detectMs.Count / 2]))
            .Set("detect_ms_max", Math.Round(detectMs[^1]))
            .Set("attempts_over_max", attemptsOverMax)
            .Set("allocated_milli_at_end", stillAllocated)
            .Set("orphans", orphans.Count);
        report.Emit(failures.Count == 0 && attemptsOverMax == 0 && stillAllocated == 0 && orphans.Count == 0);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(0, attemptsOverMax);
        Assert.Equal(0, stillAllocated);
        Assert.True(orphans.Count == 0, "orphan processes: " + string.Join(", ", orphans));
    }

    [Fact]
    public async Task R5_DatabaseLockedByAnotherProcess_NoAcceptedJobLostNo500AndSchedulingResumes()
    {
        using var server = new TestServer(realExecutor: true, configure: o =>
        {
            o.AutoSchedule = true;
            o.CycleIntervalSeconds = 0.1;
            o.Executor = "none";
            o.VirtualNodes = 4;
            o.VirtualDevicesPerNode = 8;
        });
        var admin = server.Admin();
        var locks = ProveReport.Pick(3, 10);
        var database = Path.Combine(server.DataDirectory, "aicc.db");
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        using var stop = new CancellationTokenSource();
        var retryAfterMissing = 0;
        long slowestMs = 0;

        async Task ClientAsync(int client)
        {
            var http = server.Admin();
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var key = $"r5-{client}-{n}";
                for (var tries = 0; tries < 100; tries++)
                {
                    var clock = Stopwatch.StartNew();
                    using var response = await http.SubmitAsync(Http.Job(gpus: 0), key);
                    InterlockedMax(ref slowestMs, clock.ElapsedMilliseconds);
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, c) => c + 1);
                    if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
                    {
                        acknowledged[key] = (await response.ReadJsonAsync())["id"]!.GetValue<string>();
                        break;
                    }

                    if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)
                    {
                        if (response.Headers.RetryAfter is null)
                        {
                            Interlocked.Increment(ref retryAfterMissing);
                        }

                        await Task.Delay(100);
                        continue;
                    }

                    break;
                }
            }
        }

        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(() => ClientAsync(c))).ToList();
        for (var i = 0; i < locks; i++)
        {
            await Task.Delay(300);
            await HoldExclusiveLockAsync(database, seconds: 5);
        }

        await Task.Delay(500);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        // Every acknowledged job is in the database once, and all of them finish: scheduling resumed.
        var lost = 0;
        var unfinished = 0;
        for (var wait = 0; wait < 300; wait++)
        {
            await using var db = server.Db();
            var rows = await db.Workloads.AsNoTracking().Select(w => new { w.Id, w.State }).ToListAsync();
            var byId = rows.ToDictionary(r => r.Id, r => r.State, StringComparer.Ordinal);
            lost = acknowledged.Values.Count(id => !byId.ContainsKey(id));
            unfinished = acknowledged.Values.Count(id => byId.TryGetValue(id, out var s) && s != WorkloadStates.Succeeded);
            if (unfinished == 0)
            {
                break;
            }

            await Task.Delay(100);
        }

        var errors = statuses.Where(s => s.Key >= 500 && s.Key != 503).Sum(s => s.Value);
        var report = new ProveReport("R5", 0)
            .Set("locks", locks)
            .Set("lock_seconds", 5)
            .Set("acknowledged", acknowledged.Count)
            .Set("lost", lost)
            .Set("unfinished", unfinished)
            .Set("answers_500", errors)
            .Set("answers_503", statuses.GetValueOrDefault(503))
            .Set("answers_429", statuses.GetValueOrDefault(429))
            .Set("retry_after_missing", retryAfterMissing)
            .Set("slowest_answer_ms", slowestMs);
        report.Emit(lost == 0 && unfinished == 0 && errors == 0 && retryAfterMissing == 0);
        Assert.False(acknowledged.IsEmpty, "no submission was acknowledged");
        Assert.Equal(0, lost);
        Assert.Equal(0, unfinished);
        Assert.Equal(0, errors);
        Assert.Equal(0, retryAfterMissing);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    /// <summary>A separate process (python3's sqlite3) takes an exclusive lock, holds it, and lets go.</summary>
    private static async Task HoldExclusiveLockAsync(string database, int seconds)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(float(sys.argv[2]))\nc.execute('COMMIT')\n");
        start.ArgumentList.Add(database);
        start.ArgumentList.Add(seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var holder = Process.Start(start)!;
        var line = await holder.StandardOutput.ReadLineAsync();
        Assert.Equal("locked", line);
        await holder.WaitForExitAsync();
        Assert.Equal(0, holder.ExitCode);
    }

    private async Task<int> WaitForPidAsync(string id, int attempt)
    {
        var path = Path.Combine(_dir, $"{id}.{attempt}");
        for (var i = 0; i < 600; i++)
        {
            if (File.Exists(path) && int.TryParse((await File.ReadAllTextAsync(path)).Trim(), out var pid))
            {
                return pid;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{id} attempt {attempt} never started");
    }

    private static async Task<string> SubmitAsync(HttpClient admin, string[] command, int retries, int timeLimit = 0)
    {
        var job = new JsonObject
        {
            ["queue"] = "default",
            ["command"] = new JsonArray([.. command.Select(c => (JsonNode?)c)]),
            ["maxRetries"] = retries,
            ["timeLimitSeconds"] = timeLimit,
            ["podSets"] = new JsonArray(new JsonObject { ["count"] = 1, ["cpuMilli"] = 100, ["memoryMiB"] = 64, ["accelerator"] = new JsonObject { ["count"] = 1 } }),
        };
        using var response = await admin.SubmitAsync(job.ToJsonString());
        var body = await response.ReadJsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToJsonString());
        return body["id"]!.GetValue<string>();
    }

    /// <summary>Live processes whose marker names one of these workloads (found through /proc).</summary>
    private static async Task<List<string>> OrphansAsync(HashSet<string> ids)
    {
        var found = new List<string>();
        for (var wait = 0; wait < 20; wait++)
        {
            found.Clear();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid))
                {
                    continue;
                }

                try
                {
                    var environ = await File.ReadAllTextAsync(Path.Combine(dir, "environ"));
                    var marker = environ.Split('\0').FirstOrDefault(v => v.StartsWith("AICC_MARKER=", StringComparison.Ordinal));
                    var stat = await File.ReadAllTextAsync(Path.Combine(dir, "stat"));
                    var zombie = stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
                    if (marker is not null && !zombie && ids.Contains(marker.Split(':')[1]))
                    {
                        found.Add($"{pid} ({marker})");
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The process ended while we looked.
                }
            }

            if (found.Count == 0)
            {
                break;
            }

            await Task.Delay(100);
        }

        return found;
    }
}
