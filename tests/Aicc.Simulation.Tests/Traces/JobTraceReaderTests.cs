using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Tests.Traces;

public sealed class JobTraceReaderTests
{
    private static JobTrace Read(string text) => JobTraceReader.Read("trace.csv", new StringReader(text));

    [Fact]
    public void Read_Philly_ArrivalsRelativeToEarliestAndSorted()
    {
        var trace = Read("timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,a\n2017-10-09 06:13:03,100.0,8,800.0,b\n");
        Assert.Equal("philly", trace.Format);
        Assert.Equal(0, trace.Jobs[0].SubmitSeconds);
        Assert.Equal("b", trace.Jobs[0].Tenant);
        Assert.Equal(8, trace.Jobs[0].Gpus);
        Assert.Equal(2932, trace.Jobs[1].SubmitSeconds);
    }

    [Fact]
    public void Read_Tiresias_UsesSubmitTimeAndDuration()
    {
        var trace = Read("job_id,num_gpu,submit_time,iterations,model_name,duration,interval\n0,1,0,606,vgg19,164,30\n1,8,30,133,vgg11,147,23\n");
        Assert.Equal(2, trace.Jobs.Count);
        Assert.Equal(147, trace.Jobs[1].DurationSeconds);
        Assert.Equal("vgg11", trace.Jobs[1].Tenant);
    }

    [Fact]
    public void Read_OwnFormat_FractionModelsAndPriority()
    {
        var trace = Read("# comment\nid,tenant,submit_s,duration_s,gpus,priority,models,pods\nx,acme,5,60,0.25,3,A100|H100,\ny,acme,6,60,16,0,,2\n");
        Assert.Equal(0.25, trace.Jobs[0].Gpus);
        Assert.Equal(3, trace.Jobs[0].Priority);
        Assert.Equal(["A100", "H100"], trace.Jobs[0].Models);
        Assert.Equal(2, trace.Jobs[1].Pods);
    }

    [Fact]
    public void Read_OwnFormat_RoundTripsThroughWrite()
    {
        var jobs = new[] { new TraceJob { Id = "a", Tenant = "t", SubmitSeconds = 1.5, DurationSeconds = 10, Gpus = 2, Priority = 1, Models = ["A100"] } };
        var trace = Read(JobTraceCsv.Write(jobs));
        Assert.Equal(jobs[0] with { Models = [] }, trace.Jobs[0] with { Models = [] });
        Assert.Equal(["A100"], trace.Jobs[0].Models);
    }

    [Fact]
    public void Read_MalformedLines_NamesEveryProblemWithLineAndField()
    {
        var ex = Assert.Throws<JobTraceException>(() => Read("id,tenant,submit_s,duration_s,gpus\na,t,0,10,1\nb,t,soon,10,1\nc,t,0,-5,1.5\n"));
        Assert.Contains(ex.Problems, p => p.Line == 3 && p.Field == "submit_s");
        Assert.Contains(ex.Problems, p => p.Line == 4 && p.Field == "duration_s");
        Assert.Contains(ex.Problems, p => p.Line == 4 && p.Field == "gpus");
        Assert.Contains("trace.csv:3: submit_s", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnknownHeader_SaysWhichFormatsAreKnown()
    {
        var ex = Assert.Throws<JobTraceException>(() => Read("a,b,c\n1,2,3\n"));
        Assert.Equal("header", ex.Problems[0].Field);
        Assert.Contains("Philly", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_PhillyMissingCluster_NamesLineAndField()
    {
        var ex = Assert.Throws<JobTraceException>(() => Read("timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,\n"));
        Assert.Equal((2, "cluster"), (ex.Problems[0].Line, ex.Problems[0].Field));
    }
}
