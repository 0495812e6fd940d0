using System.CommandLine;
using Aicc.Commands;

var root = new RootCommand("Aicc: one control plane for an AI computing center — pools, quotas, placement, simulation.");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(SimCommand.Create());
root.Subcommands.Add(ServerCommand.Create());
return await root.Parse(args).InvokeAsync();
