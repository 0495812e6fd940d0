using System.Text.Json.Nodes;
using Aicc.Server.Api;
using Aicc.Server.Execution;
using Aicc.Server.Execution.Slurm;
using Aicc.Server.Hosting;
using Aicc.Server.Inventory;

namespace Aicc.Server.Tests.Execution;

/// <summary>The Slurm executor's pure parts; the contract against a real Slurm is tests/Aicc.Slurm.Tests.</summary>
public sealed class SlurmSubmissionTests
{
    private static LaunchPlan Plan(params PlacementDto[] pods) => new(
        "wl-abc",
        "t1",
        "default",
        "train",
        2,
        new JobSpec
        {
            Name = "train",
            Queue = "default",
            Command = ["python3", "-c", "print('$(rm -rf /); #SBATCH')", "a b"],
            Env = new() { ["LR"] = "0.1" },
            TimeLimitSeconds = 90,
            PodSets = [new PodSetDto { Name = "worker", Count = pods.Length, CpuMilli = 2500, MemoryMiB = 1024, Accelerator = new AcceleratorDto { Count = 4 } }],
        },
        pods);

    private static SlurmSubmission.Context Context() => new("aicc:inst:wl-abc:2", "/d/work", "/d/attempt-2", "aicc", new Dictionary<string, string> { ["PATH"] = "/usr/bin" }, "10.0.0.1", 29999);

    [Fact]
    public void Build_UnevenGang_OneComponentPerNodeWithItsTasksAndGpus()
    {
        var plan = Plan(
            new PlacementDto("worker", 0, "n1", [0, 1, 2, 3], 1000, 0),
            new PlacementDto("worker", 1, "n2", [0, 1, 2, 3], 1000, 1),
            new PlacementDto("worker", 2, "n1", [4, 5, 6, 7], 1000, 2));
        var body = SlurmSubmission.Build(plan, Context());
        var jobs = body["jobs"]!.AsArray();
        Assert.Equal(2, jobs.Count);
        Assert.Equal("n1", jobs[0]!["nodelist"]!.GetValue<string>());
        Assert.Equal(2, jobs[0]!["tasks"]!.GetValue<int>());
        Assert.Equal("n2", jobs[1]!["nodelist"]!.GetValue<string>());
        Assert.Equal(1, jobs[1]!["tasks"]!.GetValue<int>());
        Assert.All(jobs, j =>
        {
            Assert.Equal("1", j!["nodes"]!.GetValue<string>());
            Assert.Equal("4", j["gpus_per_task"]!.GetValue<string>());
            Assert.Equal(3, j["cpus_per_task"]!.GetValue<int>());
            Assert.Equal("aicc", j["partition"]!.GetValue<string>());
            Assert.Equal("aicc:inst:wl-abc:2", j["comment"]!.GetValue<string>());
            Assert.Equal(3, j["time_limit"]!.GetValue<int>());
            Assert.Null(j["argv"]);
        });
        Assert.Equal(2048, jobs[0]!["memory_per_node"]!.GetValue<long>());

        var env = jobs[0]!["environment"]!.AsObject();
        Assert.Equal("0,2", env["AICC_G0_RANKS"]!.GetValue<string>());
        Assert.Equal("0,2", env["AICC_G0_INDICES"]!.GetValue<string>());
        Assert.Equal("1", env["AICC_G1_RANKS"]!.GetValue<string>());
        Assert.Equal("2", env["AICC_G0_LOCAL_SIZE"]!.GetValue<string>());
        Assert.Equal("1", env["AICC_G1_NODE_RANK"]!.GetValue<string>());
        Assert.Equal("3", env["WORLD_SIZE"]!.GetValue<string>());
        Assert.Equal("10.0.0.1", env["MASTER_ADDR"]!.GetValue<string>());
        Assert.Equal("0.1", env["LR"]!.GetValue<string>());
        Assert.Equal("4", env["AICC_ARGC"]!.GetValue<string>());
        Assert.Equal("print('$(rm -rf /); #SBATCH')", env["AICC_ARGV_2"]!.GetValue<string>());
        Assert.Equal("a b", env["AICC_ARGV_3"]!.GetValue<string>());
    }

    [Fact]
    public void Script_IsFixedTextAndNumbers_NeverTheTenantsWords()
    {
        var plan = Plan(new PlacementDto("worker", 0, "gpu-a", [0, 1, 2, 3], 1000, 0), new PlacementDto("worker", 1, "gpu-b", [0, 1, 2, 3], 1000, 1));
        var script = SlurmSubmission.Build(plan, Context())["script"]!.GetValue<string>();
        Assert.DoesNotContain("python3", script, StringComparison.Ordinal);
        Assert.DoesNotContain("rm -rf", script, StringComparison.Ordinal);
        Assert.DoesNotContain("worker", script, StringComparison.Ordinal);
        Assert.DoesNotContain("gpu-a", script, StringComparison.Ordinal);
        Assert.Equal(3, script.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("--het-group=0 ", script, StringComparison.Ordinal);
        Assert.Contains(" : --het-group=1 ", script, StringComparison.Ordinal);
        Assert.Contains("--gpus-per-task=4", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SingleNode_IsAPlainJob()
    {
        var body = SlurmSubmission.Build(Plan(new PlacementDto("worker", 0, "n1", [3], 1000, 0)), Context());
        Assert.Null(body["jobs"]);
        Assert.Equal("n1", body["job"]!["nodelist"]!.GetValue<string>());
        Assert.DoesNotContain("het-group", body["script"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_NamesEveryProblemAtOnce()
    {
        var spec = new JobSpec
        {
            Name = "x\ny",
            Command = ["sh", "-c", "echo\r\n#SBATCH --exclusive", "#sbatch"],
            Env = new() { ["A"] = "a\0" },
            PodSets = [new PodSetDto { Count = 1, Accelerator = new AcceleratorDto { Count = 1, Milli = 500 } }],
        };
        var fields = SlurmSubmission.Check(spec).Select(p => p.Field).ToList();
        Assert.Equal(["podSets[0].accelerator.milli", "name", "command[2]", "command[3]", "env.A"], fields);
        Assert.Empty(SlurmSubmission.Check(new JobSpec { Name = "ok", Command = ["python3", "-c", "print(1)"], PodSets = [new PodSetDto { Count = 1, Accelerator = new AcceleratorDto { Count = 2 } }] }));
    }

    [Theory]
    [InlineData("aicc:inst:wl-abc:2", "wl-abc", 2)]
    [InlineData("aicc:inst:wl:x:12", "wl:x", 12)]
    public void Marker_RoundTrips(string comment, string workload, int attempt)
    {
        Assert.Equal((workload, attempt), SlurmSubmission.ParseMarker("inst", comment));
        Assert.Equal(comment, SlurmSubmission.Marker("inst", workload, attempt));
    }

    [Theory]
    [InlineData("")]
    [InlineData("aicc:other:wl-abc:2")]
    [InlineData("aicc:inst:wl-abc:")]
    [InlineData("aicc:inst:wl-abc:-1")]
    [InlineData("someone else's job")]
    public void Marker_OfAnotherInstallationOrNone_IsNotOurs(string comment) => Assert.Null(SlurmSubmission.ParseMarker("inst", comment));

    [Theory]
    [InlineData(0, 0)]
    [InlineData(768, 3)]
    [InlineData(15, 143)]
    [InlineData(9, 137)]
    [InlineData(256 * 255, 255)]
    public void ExitCode_DecodesSlurmsWaitStatus(int raw, int expected) =>
        Assert.Equal(expected, new SlurmJob(1, "", "", "FAILED", raw, "", 0, 0, "").ExitCode);

    [Theory]
    [InlineData("COMPLETED", 0, null, OutcomeKind.Exited)]
    [InlineData("FAILED", 768, null, OutcomeKind.Exited)]
    [InlineData("TIMEOUT", 15, null, OutcomeKind.TimedOut)]
    [InlineData("CANCELLED", 15, null, OutcomeKind.Cancelled)]
    [InlineData("NODE_FAIL", 0, null, OutcomeKind.Lost)]
    [InlineData("COMPLETED", 0, "preempted", OutcomeKind.Cancelled)]
    public void Outcome_MapsSlurmStates(string state, int raw, string? stop, OutcomeKind kind)
    {
        Assert.True(SlurmExecutor.IsTerminal(state));
        Assert.Equal(kind, SlurmExecutor.Outcome(new SlurmJob(7, "", "", state, raw, "None", 0, 0, "n1"), stop).Kind);
    }

    [Theory]
    [InlineData("PENDING")]
    [InlineData("RUNNING")]
    [InlineData("COMPLETING")]
    [InlineData("CONFIGURING")]
    public void LiveStates_AreNotTerminal(string state) => Assert.False(SlurmExecutor.IsTerminal(state));

    [Fact]
    public void Gres_ParsesTypedUntypedAndSocketSuffixes()
    {
        Assert.Equal([("H100", 8)], AcceleratorInventory.ParseGres("gpu:h100:8(S:0-1)", "GPU"));
        Assert.Equal([("GPU", 4)], AcceleratorInventory.ParseGres("gpu:4", "GPU"));
        Assert.Equal([("A100", 2), ("T4", 1)], AcceleratorInventory.ParseGres("gpu:a100:2,mps:100,gpu:tesla_t4:1", "GPU"));
        Assert.Empty(AcceleratorInventory.ParseGres("(null)", "GPU"));
        Assert.Empty(AcceleratorInventory.ParseGres("gpu:h100:x", "GPU"));
    }

    [Fact]
    public void TokenExpiry_ReadsTheExpClaim()
    {
        // {"alg":"HS256","typ":"JWT"} . {"exp":1796643061,"iat":1796556661,"sun":"root"} . signature
        const string Jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3OTY2NDMwNjEsImlhdCI6MTc5NjU1NjY2MSwic3VuIjoicm9vdCJ9.sig";
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796643061), SlurmToken.Expiry(Jwt));
        Assert.Null(SlurmToken.Expiry("not-a-jwt"));
        Assert.Null(SlurmToken.Expiry("a.!!!.c"));
    }

    [Fact]
    public void Options_SlurmWithoutItsSettings_NamesEachProblem()
    {
        var options = new ServerOptions { Executor = "slurm", Slurm = new SlurmOptions { Url = "ftp://x", User = "a b", Partition = "p;q", PollSeconds = 0 } };
        var problems = options.Validate();
        Assert.Contains(problems, p => p.StartsWith("Aicc:Slurm:Url", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:Slurm:User", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:Slurm:TokenFile/TokenCommand", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:Slurm:Partition", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:Slurm:PollSeconds", StringComparison.Ordinal));
        Assert.Empty(new ServerOptions { Executor = "slurm", Slurm = new SlurmOptions { Url = "http://127.0.0.1:6820", User = "aicc", TokenFile = "/t" } }.Validate());
    }

    [Fact]
    public void MasterPort_IsStablePerAttemptAndInRange()
    {
        Assert.Equal(SlurmExecutor.MasterPort("wl-abc", 1), SlurmExecutor.MasterPort("wl-abc", 1));
        Assert.InRange(SlurmExecutor.MasterPort("wl-abc", 1), 29500, 39499);
    }

    [Fact]
    public void Submission_IsValidJson() => Assert.NotNull(JsonNode.Parse(SlurmSubmission.Build(Plan(new PlacementDto("worker", 0, "n1", [], 0, 0)), Context()).ToJsonString()));
}
