using System.Diagnostics;
using System.Net;
using Aicc.Prove;

namespace Aicc.Server.Tests.Prove;

/// <summary>
/// S6 of issue 6: tenant A sends ten times its rate limit; tenant B, at a modest rate, must keep its
/// success rate and its latency. The per-tenant token bucket answers A with 429 + Retry-After before
/// any database work, so B only shares the CPU with cheap rejections.
/// </summary>
public sealed class AbuseSuiteTests : IDisposable
{
    private const int LimitPerSecond = 50;

    private readonly TestServer _server = new(configure: o =>
    {
        o.RateLimitPerSecond = LimitPerSecond;
        o.RateLimitBurst = LimitPerSecond;
    });

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task S6_OneTenantFloodingAtTenTimesItsLimit_LeavesAnotherTenantServed()
    {
        var seconds = ProveReport.Pick(10, 30);
        var a = _server.Client(await _server.TenantMemberAsync("flood"));
        var b = _server.Client(await _server.TenantMemberAsync("calm"));
        var id = (await (await b.SubmitAsync(Http.Job())).ReadJsonAsync())["id"]!.GetValue<string>();

        var baseline = await CalmAsync(b, id, TimeSpan.FromSeconds(Math.Min(5, seconds)));

        using var stop = new CancellationTokenSource();
        long floodSent = 0, flood429 = 0, floodOther = 0;
        async Task FloodAsync()
        {
            // Ten times the limit, spread over four senders with a fixed pace.
            var clock = Stopwatch.StartNew();
            for (long n = 0; !stop.IsCancellationRequested; n++)
            {
                var due = TimeSpan.FromSeconds(n / (LimitPerSecond * 10.0 / 4));
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }

                using var response = await a.GetAsync("/api/v1/workloads");
                Interlocked.Increment(ref floodSent);
                if (response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter is not null)
                {
                    Interlocked.Increment(ref flood429);
                }
                else if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref floodOther);
                }
            }
        }

        var flooders = Enumerable.Range(0, 4).Select(_ => Task.Run(FloodAsync)).ToList();
        await Task.Delay(500);
        var abused = await CalmAsync(b, id, TimeSpan.FromSeconds(seconds));
        await stop.CancelAsync();
        await Task.WhenAll(flooders);

        var ratio = abused.P95Ms / Math.Max(1, baseline.P95Ms);
        var successPct = 100.0 * abused.Ok / abused.Sent;
        var report = new ProveReport("S6", 0)
            .Set("seconds", seconds)
            .Set("limit_per_s", LimitPerSecond)
            .Set("flood_rate_per_s", Math.Round(floodSent / (double)(seconds + 0.5)))
            .Set("flood_429_pct", Math.Round(100.0 * flood429 / Math.Max(1, floodSent), 1))
            .Set("flood_other_answers", floodOther)
            .Set("b_requests", abused.Sent)
            .Set("b_success_pct", Math.Round(successPct, 2))
            .Set("b_p95_ms_baseline", Math.Round(baseline.P95Ms, 1))
            .Set("b_p95_ms_under_abuse", Math.Round(abused.P95Ms, 1))
            .Set("b_p95_ratio", Math.Round(ratio, 2))
            .Set("b_p95_within_2x", ratio <= 2);

        // "pass" is what this profile asserts: the latency ratio only in the full profile (below); the
        // quick profile reports it beside, as b_p95_within_2x.
        report.Emit(successPct >= 99 && floodOther == 0 && flood429 > floodSent / 2 && (!ProveReport.Full || ratio <= 2));
        Assert.True(successPct >= 99, $"tenant B succeeded on {successPct:F2}% of its requests");
        Assert.Equal(0, floodOther);
        Assert.True(flood429 > floodSent / 2, "the flood was not rate limited");

        // The latency bound is a timing figure: it is asserted only in the full profile (scripts/prove.sh
        // --full) on a quiet machine, and reported by both.
        if (ProveReport.Full)
        {
            Assert.True(ratio <= 2, $"tenant B's p95 rose {ratio:F2}x under the flood");
        }
    }

    private sealed record Calm(int Sent, int Ok, double P95Ms);

    /// <summary>Tenant B: 20 requests a second, alternating a read and a list.</summary>
    private static async Task<Calm> CalmAsync(HttpClient b, string id, TimeSpan duration)
    {
        var latencies = new List<double>();
        var ok = 0;
        var clock = Stopwatch.StartNew();
        for (var n = 0; clock.Elapsed < duration; n++)
        {
            var due = TimeSpan.FromMilliseconds(n * 50);
            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            var start = Stopwatch.GetTimestamp();
            using var response = await b.GetAsync(n % 2 == 0 ? $"/api/v1/workloads/{id}" : "/api/v1/workloads?limit=20");
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                ok++;
            }
        }

        latencies.Sort();
        return new Calm(latencies.Count, ok, latencies[(int)Math.Ceiling(latencies.Count * 0.95) - 1]);
    }
}
