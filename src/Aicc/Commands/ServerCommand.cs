using System.CommandLine;
using Aicc.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Aicc.Commands;

/// <summary><c>aicc server</c>: runs the control plane (API, scheduling loop, local executor).</summary>
internal static class ServerCommand
{
    public static Command Create()
    {
        var urls = new Option<string?>("--urls") { Description = "Where to listen (default http://127.0.0.1:5080)." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (default ./aicc-data or $AICC_DATA)." };
        var config = new Option<FileInfo?>("--config") { Description = "A JSON file with an \"Aicc\" section (see docs/operator-guide.md)." };
        var policy = new Option<string?>("--policy") { Description = "Scheduling policy: a built-in name or a policy JSON document." };
        var logFormat = new Option<string?>("--log-format") { Description = "text (default) or json: one JSON object per line for log collectors." };
        var executor = new Option<string?>("--executor") { Description = "local (default: child processes here), slurm (a Slurm cluster through slurmrestd; see docs/slurm.md) or none." };
        var command = new Command("server", "Run the Aicc control plane: API, scheduler and executor.") { urls, dataDir, config, policy, logFormat, executor };
        command.SetAction(async (parse, ct) =>
        {
            var builder = new ConfigurationBuilder();
            if (parse.GetValue(config) is { } file)
            {
                if (!file.Exists)
                {
                    await Console.Error.WriteLineAsync($"error: --config {file.FullName}: no such file");
                    return ExitCodes.Usage;
                }

                builder.AddJsonFile(file.FullName, optional: false);
            }

            builder.AddEnvironmentVariables("AICC_");
            var options = new ServerOptions();
            try
            {
                builder.Build().GetSection("Aicc").Bind(options);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or System.IO.InvalidDataException)
            {
                await Console.Error.WriteLineAsync($"error: configuration: {e.Message}");
                return ExitCodes.Usage;
            }

            options.Urls = parse.GetValue(urls) ?? options.Urls;
            options.DataDirectory = parse.GetValue(dataDir) ?? options.DataDirectory;
            options.Policy = parse.GetValue(policy) ?? options.Policy;
            options.LogFormat = parse.GetValue(logFormat) ?? options.LogFormat;
            options.Executor = parse.GetValue(executor) ?? options.Executor;
            var problems = options.Validate();
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await Console.Error.WriteLineAsync($"error: {problem}");
                }

                return ExitCodes.Usage;
            }

            try
            {
                using var host = AiccServerHost.CreateHostBuilder(options).Build();
                await host.RunAsync(ct);
                return ExitCodes.Ok;
            }
            catch (InvalidOperationException e) when (e.InnerException is Aicc.Server.Execution.Slurm.SlurmException)
            {
                // The Slurm cluster is not reachable at start: say so instead of a stack trace.
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Unavailable;
            }
        });
        return command;
    }
}
