using Aicc.Server.Hosting;

namespace Aicc.Server.Tests;

public sealed class ServerOptionsTests
{
    [Fact]
    public void Validate_Defaults_HasNoProblems()
    {
        Assert.Empty(new ServerOptions().Validate());
    }

    [Fact]
    public void Validate_SeveralBadSettings_NamesEveryOneAtOnce()
    {
        var options = new ServerOptions { LogFormat = "yaml", Executor = "docker", CycleIntervalSeconds = 0, Policy = "nope" };

        var problems = options.Validate();

        Assert.Contains(problems, p => p.StartsWith("Aicc:LogFormat: 'yaml'; choose text or json", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:Executor:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:CycleIntervalSeconds:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Aicc:Policy:", StringComparison.Ordinal));
    }
}
