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
}
