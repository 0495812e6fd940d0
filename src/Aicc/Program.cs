using System.CommandLine;
using Aicc.Commands;

var root = new RootCommand("Aicc: one control plane for an AI computing center — pools, quotas, placement, simulation.");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(SimCommand.Create());
root.Subcommands.Add(PlanCommand.Create());
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(LoginCommand.Create());
root.Subcommands.Add(JobCommand.Create());
root.Subcommands.Add(QueueCommand.Create());
root.Subcommands.Add(NodeCommand.Create());
root.Subcommands.Add(TenantCommand.Create());
root.Subcommands.Add(QuotaCommand.Create());
root.Subcommands.Add(TokenCommand.Create());
root.Subcommands.Add(UsageCommand.Create());
root.Options.Add(Aicc.Cli.CliOutput.Format);
return await root.Parse(args).InvokeAsync();
