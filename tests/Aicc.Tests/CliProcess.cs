using System.Diagnostics;

namespace Aicc.Tests;

/// <summary>The real <c>aicc</c> CLI as a child process, as a user runs it: exit code, stdout and stderr.</summary>
internal static class CliProcess
{
    public sealed record Result(int Code, string Stdout, string Stderr)
    {
        /// <summary>Both streams, stdout first.</summary>
        public string Output => Stdout + Stderr;
    }

    /// <summary>Runs <c>aicc</c> with <paramref name="args"/>; gives up after <paramref name="timeoutSeconds"/>.</summary>
    public static async Task<Result> RunAsync(IEnumerable<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null, int timeoutSeconds = 120)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aicc.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
