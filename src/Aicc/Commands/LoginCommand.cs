using System.CommandLine;
using Aicc.Cli;

namespace Aicc.Commands;

/// <summary><c>aicc login --server URL --token T</c>: checks the token and saves both for later verbs.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "The server's URL, e.g. http://127.0.0.1:5080.", Required = true };
        var token = new Option<string>("--token") { Description = "An API token (the first admin token is in <data dir>/admin-token).", Required = true };
        var command = new Command("login", "Check a token against a server and remember both.") { server, token };
        command.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            var url = parse.GetValue(server)!;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                throw new CliException(ExitCodes.Usage, $"--server {url}: give an http:// or https:// URL");
            }

            var config = new CliConfig(url, parse.GetValue(token)!.Trim());
            using var client = new ApiClient(config, TimeSpan.FromSeconds(15));
            var tenants = await client.SendAsync(HttpMethod.Get, "api/v1/tenants", ct: ct);
            config.Save();
            Console.WriteLine($"Logged in to {url}; tenant(s): {string.Join(", ", tenants.AsArray().Select(t => CliOutput.Text(t?["name"])))}. Saved to {CliConfig.PathOf()}.");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
