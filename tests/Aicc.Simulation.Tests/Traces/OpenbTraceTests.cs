using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Tests.Traces;

public sealed class OpenbTraceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-openb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadNodes_OpenbColumns_ReadsEveryNode()
    {
        var path = Write("nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,131072,0,nan\n");

        var nodes = OpenbTrace.ReadNodes(path);

        Assert.Equal([new OpenbNode("n0", 64000, 262144, 2, "P100"), new OpenbNode("n1", 32000, 131072, 0, "")], nodes);
    }

    [Fact]
    public void ReadPods_ColumnsInAnyOrderAndNoGpuSpec_ReadsShares()
    {
        var path = Write("pods.csv", "num_gpu,name,gpu_milli,cpu_milli,memory_mib\n1,p0,460,6000,12288\n2,p1,1000,16000,32768\n0,p2,0,4000,8192\n");

        var pods = OpenbTrace.ReadPods(path, new HashSet<string> { "T4" });

        Assert.Equal(460, pods[0].TotalMilli);
        Assert.Equal(2000, pods[1].TotalMilli);
        Assert.Equal(0, pods[2].TotalMilli);
        Assert.All(pods, p => Assert.Equal("", p.GpuSpec));
    }

    [Fact]
    public void ReadPods_MissingColumn_NamesFileLineAndColumn()
    {
        var path = Write("pods.csv", "name,cpu_milli,num_gpu,gpu_milli\np0,1000,1,500\n");

        var ex = Assert.Throws<TraceFormatException>(() => OpenbTrace.ReadPods(path, new HashSet<string>()));

        Assert.Equal($"{path}: line 1: missing column 'memory_mib' (header: name,cpu_milli,num_gpu,gpu_milli)", Assert.Single(ex.Problems));
    }

    [Fact]
    public void ReadPods_SeveralBadValues_ReportsEachWithLineAndColumn()
    {
        var path = Write("pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,-5,100,1,500,\np1,abc,100,1,500,\np2,1000,100,1,500,H100\n");

        var ex = Assert.Throws<TraceFormatException>(() => OpenbTrace.ReadPods(path, new HashSet<string> { "T4" }));

        Assert.Equal(3, ex.Problems.Count);
        Assert.Contains($"{path}: line 2, column 2 (cpu_milli): -5 is negative", ex.Problems);
        Assert.Contains($"{path}: line 3, column 2 (cpu_milli): 'abc' is not a whole number", ex.Problems);
        Assert.Contains($"{path}: line 4, column 6 (gpu_spec): unknown GPU model 'H100' (the nodes have T4)", ex.Problems);
    }

    [Fact]
    public void ReadNodes_EmptyFile_SaysSo()
    {
        var path = Write("nodes.csv", "");

        var ex = Assert.Throws<TraceFormatException>(() => OpenbTrace.ReadNodes(path));

        Assert.Equal($"{path}: line 1: empty file (expected a header line)", Assert.Single(ex.Problems));
    }

    [Fact]
    public void ReadPods_SharedMultiGpuPod_IsRejected()
    {
        var path = Write("pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,100,2,500\n");

        var ex = Assert.Throws<TraceFormatException>(() => OpenbTrace.ReadPods(path, new HashSet<string>()));

        Assert.Contains("line 2, column 5 (gpu_milli): a pod of 2 GPUs must take them whole", Assert.Single(ex.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void ReadNodesAndPods_JsonArray_ReadsTheSameAsTheCsv()
    {
        var csvNodes = Write("nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,131072,0,\n");
        var jsonNodes = Write("nodes.json", """
            [
              { "name": "n0", "cpu_milli": 64000, "memory_mib": 262144, "gpu": 2, "model": "P100" },
              { "name": "n1", "cpu_milli": 32000, "memory_mib": 131072, "gpu": 0, "model": null }
            ]
            """);
        var csvPods = Write("pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,6000,12288,1,460,P100\np1,16000,32768,2,1000,\n");
        var jsonPods = Write("pods.json", """
            [
              { "name": "p0", "cpu_milli": 6000, "memory_mib": 12288, "num_gpu": 1, "gpu_milli": 460, "gpu_spec": "P100" },
              // gpu_spec may be left out: any model
              { "name": "p1", "cpu_milli": 16000, "memory_mib": 32768, "num_gpu": 2, "gpu_milli": 1e3 },
            ]
            """);

        Assert.Equal(OpenbTrace.ReadNodes(csvNodes), OpenbTrace.ReadNodes(jsonNodes));
        var models = new HashSet<string> { "P100" };
        Assert.Equal(OpenbTrace.ReadPods(csvPods, models), OpenbTrace.ReadPods(jsonPods, models));
    }

    [Fact]
    public void ReadPods_JsonWithSeveralProblems_NamesEachItemAndField()
    {
        var path = Write("pods.json", """
            [
              { "name": "p0", "cpu_milli": -1, "memory_mib": 100, "num_gpu": 1, "gpu_milli": 500 },
              { "name": "p1", "cpu_milli": 1000, "num_gpu": 1, "gpu_milli": 1500 },
              { "name": "p2", "cpu_milli": 1000, "memory_mib": 100, "num_gpu": 1, "gpu_milli": 500, "gpu_spec": "H100" }
            ]
            """);

        var ex = Assert.Throws<TraceFormatException>(() => OpenbTrace.ReadPods(path, new HashSet<string> { "T4" }));

        Assert.Equal(
            [
                $"{path}: item 1 (cpu_milli): -1 is negative",
                $"{path}: item 2 (memory_mib): missing value",
                $"{path}: item 2 (gpu_milli): share per GPU must be 1..1000 milli when num_gpu is 1, not 1500",
                $"{path}: item 3 (gpu_spec): unknown GPU model 'H100' (the nodes have T4)",
            ],
            ex.Problems);
    }

    [Theory]
    [InlineData("{ \"nodes\": [] }", "expected a JSON array of objects, found object")]
    [InlineData("[ 1, 2 ]", "item 1: expected an object, found number")]
    [InlineData("[ { \"name\": \"n0\", \"gpu\": [2] } ]", "item 1 (gpu): expected a number or a string, found array")]
    [InlineData("[ { \"name\": ", "line 1: not valid JSON")]
    [InlineData("[]", "no nodes in the array")]
    public void ReadNodes_MalformedJson_SaysWhatIsWrong(string text, string expected)
    {
        var path = Write("nodes.json", text);

        var ex = Assert.Throws<TraceFormatException>(() => OpenbTrace.ReadNodes(path));

        Assert.StartsWith($"{path}: {expected}", ex.Problems[0], StringComparison.Ordinal);
    }
}
