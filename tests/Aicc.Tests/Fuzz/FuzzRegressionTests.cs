using Aicc.Fuzz;

namespace Aicc.Tests.Fuzz;

/// <summary>
/// F1 (issue 6, docs/reliability.md): every seed input and every input AFL++ once crashed or hung a
/// parser on (fuzz/regressions/TARGET, written by scripts/fuzz.sh) is replayed through the same
/// target on every test run. A seed must be accepted (the fuzzer starts deep from it); a regression
/// may be accepted or refused, but only with the error its caller turns into a message.
/// </summary>
public class FuzzRegressionTests
{
    private static string FuzzRoot() => Path.Combine(Repo.Root, "fuzz");

    private static TheoryData<string, string> Inputs(string folder)
    {
        var data = new TheoryData<string, string>();
        var root = Path.Combine(FuzzRoot(), folder);
        if (!Directory.Exists(root))
        {
            return data;
        }

        foreach (var target in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            foreach (var file in Directory.GetFiles(target).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(target), Path.GetFileName(file));
            }
        }

        return data;
    }

    public static TheoryData<string, string> Seeds() => Inputs("corpus");

    public static TheoryData<string, string> Regressions() => Inputs("regressions");

    [Fact]
    public void EveryTarget_HasASeedCorpus()
    {
        foreach (var target in FuzzTargets.All.Keys)
        {
            var dir = Path.Combine(FuzzRoot(), "corpus", target);
            Assert.True(Directory.Exists(dir) && Directory.GetFiles(dir).Length > 0, $"fuzz/corpus/{target} has no seed");
        }
    }

    [Fact]
    public void EveryInputFolder_NamesATarget()
    {
        foreach (var folder in new[] { "corpus", "regressions" })
        {
            foreach (var dir in Directory.GetDirectories(Path.Combine(FuzzRoot(), folder)))
            {
                Assert.True(FuzzTargets.All.ContainsKey(Path.GetFileName(dir)), $"fuzz/{folder}/{Path.GetFileName(dir)} is not a target");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Seed_IsAccepted(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(FuzzRoot(), "corpus", target, file));

        Assert.True(FuzzTargets.All[target](input), $"seed fuzz/corpus/{target}/{file} is refused");
    }

    [Theory]
    [MemberData(nameof(Regressions))]
    public async Task Regression_EndsWithAnAnswerNotACrash(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(FuzzRoot(), "regressions", target, file));

        // A hang is a bug too; 30 s is far above the milliseconds a parser takes, even on a loaded CI
        // machine. An exception other than the target's accepted error types fails the test here.
        var error = await Record.ExceptionAsync(() =>
            Task.Run(() => FuzzTargets.All[target](input)).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));

        Assert.Null(error);
    }
}
