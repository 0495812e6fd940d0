using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aicc.Prove;
using Microsoft.Data.Sqlite;

namespace Aicc.Tests.Prove;

/// <summary>
/// R1 of issue 6: the real <c>aicc server</c> process is SIGKILLed at random moments while 8 clients
/// submit jobs, each with its own Idempotency-Key, retrying transport errors, 5xx and 429 with the same
/// key. Every job program appends one line to a witness file. Afterwards the database and the witness
/// must show every acknowledged job once, run once, with one result.
/// </summary>
public sealed class CrashSuiteTests : IAsyncDisposable
{
    private const int Seed = 4711;
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-r1-").FullName;
    private readonly ServerProcess _server;

    public CrashSuiteTests()
    {
        _server = new ServerProcess(Path.Combine(_dir, "data"), virtualNodes: 2, devicesPerNode: 8, new Dictionary<string, string>
        {
            ["RateLimitPerSecond"] = "100000",
            ["RateLimitBurst"] = "100000",
        });
    }

    [Fact]
    public async Task R1_ServerKilledDuringSubmissions_LosesDuplicatesAndRerunsNothing()
    {
        var jobs = ProveReport.Pick(3_000, 10_000);
        var kills = ProveReport.Pick(10, 20);
        var witness = Path.Combine(_dir, "witness.log");
        var random = new Random(Seed);
        await _server.StartAsync();

        var next = -1;
        var acknowledged = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var sent = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        var answers = new ConcurrentDictionary<int, int>();
        var transportErrors = 0;

        async Task ClientAsync()
        {
            using var http = new HttpClient { BaseAddress = new Uri(_server.Url), Timeout = TimeSpan.FromSeconds(15) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _server.AdminToken);
            int n;
            while ((n = Interlocked.Increment(ref next)) < jobs)
            {
                var key = $"r1-{n}";
                sent[key] = 0;
                var body = new JsonObject
                {
                    ["queue"] = "default",
                    ["name"] = $"r1-{n}",
                    ["command"] = new JsonArray("sh", "-c", "s=$(date +%s%N); e=$(date +%s%N); echo \"$AICC_JOB_ID $AICC_ATTEMPT $$ $s $e 0\" >> \"$0\"", witness),
                    ["podSets"] = new JsonArray(new JsonObject { ["count"] = 1, ["cpuMilli"] = 10, ["memoryMiB"] = 16 }),
                };
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workloads") { Content = JsonContent.Create(body) };
                        request.Headers.Add("Idempotency-Key", key);
                        using var response = await http.SendAsync(request);
                        answers.AddOrUpdate((int)response.StatusCode, 1, (_, c) => c + 1);
                        if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
                        {
                            var id = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
                            if (acknowledged.TryGetValue(key, out var earlier) && earlier != id)
                            {
                                throw new InvalidOperationException($"key {key} answered {earlier} and then {id}");
                            }

                            acknowledged[key] = id;
                            break;
                        }

                        if ((int)response.StatusCode < 500 && response.StatusCode != HttpStatusCode.TooManyRequests)
                        {
                            throw new InvalidOperationException($"key {key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                    {
                        Interlocked.Increment(ref transportErrors);
                    }

                    if (attempt > 2_000)
                    {
                        throw new TimeoutException($"key {key} was never acknowledged");
                    }

                    await Task.Delay(50);
                }
            }
        }

        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(ClientAsync)).ToList();
        var readyMs = new List<double>();
        for (var k = 0; k < kills; k++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 2_500)));
            await _server.KillAsync();
            var clock = Stopwatch.StartNew();
            await _server.StartAsync();
            readyMs.Add(clock.Elapsed.TotalMilliseconds);
        }

        await Task.WhenAll(clients);

        // Wait until every acknowledged job has ended (the server keeps running them).
        using (var http = new HttpClient { BaseAddress = new Uri(_server.Url) })
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _server.AdminToken);
            for (var i = 0; i < 1_200; i++)
            {
                var page = JsonNode.Parse(await http.GetStringAsync("/api/v1/queues"))!.AsArray();
                if (page.Sum(q => q!["pending"]!.GetValue<int>() + q["running"]!.GetValue<int>()) == 0)
                {
                    break;
                }

                await Task.Delay(250);
            }
        }

        await _server.KillAsync();
        var figures = Check(Path.Combine(_dir, "data", "aicc.db"), witness, acknowledged, sent);
        readyMs.Sort();
        var report = new ProveReport("R1", Seed)
            .Set("jobs", jobs)
            .Set("kills", kills)
            .Set("acknowledged", acknowledged.Count)
            .Set("lost", figures.Lost)
            .Set("duplicated", figures.Duplicated)
            .Set("unexpected", figures.Unexpected)
            .Set("not_run", figures.NotRun)
            .Set("overlapping_executions", figures.Overlapping)
            .Set("more_than_one_terminal_result", figures.MultipleResults)
            .Set("transport_errors_retried", transportErrors)
            .Set("answers_5xx", answers.Where(a => a.Key >= 500).Sum(a => a.Value))
            .Set("restart_to_ready_p50_ms", Math.Round(readyMs[readyMs.Count / 2]))
            .Set("restart_to_ready_p95_ms", Math.Round(readyMs[(int)Math.Ceiling(readyMs.Count * 0.95) - 1]));
        var bad = figures.Lost + figures.Duplicated + figures.Unexpected + figures.NotRun + figures.Overlapping + figures.MultipleResults;
        report.Emit(bad == 0 && acknowledged.Count == jobs);
        Assert.Equal(jobs, acknowledged.Count);
        Assert.Equal(0, figures.Lost);
        Assert.Equal(0, figures.Duplicated);
        Assert.Equal(0, figures.Unexpected);
        Assert.Equal(0, figures.NotRun);
        Assert.Equal(0, figures.Overlapping);
        Assert.Equal(0, figures.MultipleResults);
    }

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

    private sealed record Figures(int Lost, int Duplicated, int Unexpected, int NotRun, int Overlapping, int MultipleResults);

    private static Figures Check(string database, string witness, ConcurrentDictionary<string, string> acknowledged, ConcurrentDictionary<string, byte> sent)
    {
        var rows = new List<(string Id, string? Key, string State)>();
        using (var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var select = connection.CreateCommand();
            select.CommandText = "SELECT Id, IdempotencyKey, State FROM workloads";
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2)));
            }
        }

        var byId = rows.ToDictionary(r => r.Id, StringComparer.Ordinal);
        var lost = acknowledged.Values.Count(id => !byId.ContainsKey(id));
        var duplicated = rows.Where(r => r.Key is not null).GroupBy(r => r.Key).Count(g => g.Count() > 1);
        var unexpected = rows.Count(r => r.Key is null || !sent.ContainsKey(r.Key));

        // Witness lines: job attempt pid start end exit.
        var runs = File.Exists(witness)
            ? File.ReadAllLines(witness).Select(l => l.Split(' ')).Where(p => p.Length == 6).Select(p => (Job: p[0], Attempt: p[1], Start: long.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture), End: long.Parse(p[4], System.Globalization.CultureInfo.InvariantCulture))).ToList()
            : [];
        var perJob = runs.GroupBy(r => r.Job, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Start).ToList(), StringComparer.Ordinal);
        var notRunIds = acknowledged.Values.Where(id => !perJob.ContainsKey(id) || byId.GetValueOrDefault(id).State != "Succeeded").ToList();
        var notRun = notRunIds.Count;
        if (notRun > 0)
        {
            var breakdown = notRunIds.GroupBy(id => $"{byId.GetValueOrDefault(id).State}/{(perJob.ContainsKey(id) ? "ran" : "never-ran")}").Select(g => $"{g.Key}={g.Count()}");
            TestContext.Current.TestOutputHelper?.WriteLine("not run or not succeeded: " + string.Join(", ", breakdown) + "; e.g. " + string.Join(", ", notRunIds.Take(3)));
            if (Environment.GetEnvironmentVariable("AICC_PROVE_KEEP") is { Length: > 0 } keep)
            {
                Directory.CreateDirectory(keep);
                File.Copy(database, Path.Combine(keep, "aicc.db"), overwrite: true);
                File.Copy(witness, Path.Combine(keep, "witness.log"), overwrite: true);
            }
        }

        var overlapping = perJob.Values.Count(list => list.Zip(list.Skip(1)).Any(pair => pair.Second.Start < pair.First.End));
        var multiple = perJob.Values.Count(list => list.Count > 1);
        return new Figures(lost, duplicated, unexpected, notRun, overlapping, multiple);
    }
}
