using Aicc.Scheduling.Framework;
using Aicc.Server.Inventory;
using Aicc.Server.Scheduling;

namespace Aicc.Server.Hosting;

/// <summary>The server-wide singletons endpoints need, in one parameter.</summary>
public sealed class ServerContext(ServerOptions options, TimeProvider time, SchedulerSignal signal, AcceleratorInventory inventory, DataDirectory data)
{
    public ServerOptions Options { get; } = options;

    public TimeProvider Time { get; } = time;

    public SchedulerSignal Signal { get; } = signal;

    public AcceleratorInventory Inventory { get; } = inventory;

    public DataDirectory Data { get; } = data;

    public PolicySpec Policy { get; } = PluginRegistry.Resolve(options.Policy, out _) ?? PluginRegistry.Default;

    /// <summary>Set once start-up (migration, admin token, reconciliation) is done; /readyz answers 200 after it.</summary>
    public bool Ready { get; set; }
}
