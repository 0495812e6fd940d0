using Aicc.Commands;

namespace Aicc.Tests.Commands;

public sealed class BenchApiCommandTests
{
    [Fact]
    public async Task Run_SmallLoad_EveryMeasuredJobStartsAndTheWarmUpIsLeftOut()
    {
        var result = await BenchApiCommand.RunAsync(jobs: 30, concurrency: 3, policy: "aicc", warmup: 20, TestContext.Current.CancellationToken);

        Assert.Equal(30, result["started"]);
        Assert.Equal(20, result["warmup_jobs"]);

        // Every measured job is written at least twice (submitted, then started and ended); the
        // warm-up's writes are not counted, so the figure stays below what 50 jobs would need.
        var writes = (long)result["db_writes"];
        Assert.InRange(writes, 60, 50 * 6);
        Assert.True((double)result["p99_submit_ms"] >= (double)result["p50_submit_ms"]);
        Assert.True((double)result["cpu_ms_per_job"] > 0);
    }
}
