using System.Security.Cryptography;
using System.Text.Json;
using Aicc.Server.Api;
using Aicc.Server.Auth;
using Aicc.Server.Execution;
using Aicc.Server.Execution.Local;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Hosting;

/// <summary>
/// Start-up, in order: migrate the database, check WAL, record the node inventory, create the first
/// platform-admin token, and reconcile what the executor still runs with what the database says.
/// The API answers 503 on /readyz until this is done.
/// </summary>
public sealed partial class ServerInitializer(IServiceProvider services, ServerContext server, TokenService tokens, ILogger<ServerInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        server.Data.Create();
        using var scope = services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
        await db.Database.MigrateAsync(cancellationToken);
        var mode = await db.Database.SqlQueryRaw<string>("PRAGMA journal_mode=WAL").ToListAsync(cancellationToken);
        if (mode.FirstOrDefault() is not "wal")
        {
            throw new InvalidOperationException($"the database at {server.Data.DatabasePath} is not in WAL mode (got '{mode.FirstOrDefault()}'); put the data directory on a local file system");
        }

        await RecordInventoryAsync(db, cancellationToken);
        await CreateFirstAdminAsync(db, cancellationToken);
        await ReconcileAsync(db, cancellationToken);
        server.Signal.ConfigurationChanged();
        server.Ready = true;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static async Task<string> InstallationIdAsync(AiccDb db, CancellationToken ct)
    {
        var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == "installation-id", ct);
        if (row is null)
        {
            row = new SettingRow { Key = "installation-id", Value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) };
            db.Settings.Add(row);
            await db.SaveChangesAsync(ct);
        }

        return row.Value;
    }

    private async Task RecordInventoryAsync(AiccDb db, CancellationToken ct)
    {
        var existing = await db.Nodes.ToDictionaryAsync(n => n.Name, StringComparer.Ordinal, ct);
        foreach (var node in server.Inventory.Nodes)
        {
            if (!existing.TryGetValue(node.Name, out var row))
            {
                row = new NodeRow { Name = node.Name };
                db.Nodes.Add(row);
            }

            // Capacity follows what was discovered; cordon and drain survive restarts.
            row.CpuMilli = node.CpuMilli;
            row.MemoryMiB = node.MemoryMiB;
            row.DevicesJson = JsonSerializer.Serialize(node.Devices, JsonBody.Options);
            row.Source = node.Source;
            row.Version++;
        }

        await db.SaveChangesAsync(ct);
    }

    private async Task CreateFirstAdminAsync(AiccDb db, CancellationToken ct)
    {
        if (await db.Tokens.AnyAsync(t => t.Role == Roles.PlatformAdmin, ct))
        {
            return;
        }

        var now = server.Time.GetUtcNow();
        if (!await db.Tenants.AnyAsync(t => t.Id == "default", ct))
        {
            db.Tenants.Add(new TenantRow { Id = "default", DisplayName = "Default tenant", CreatedAt = now });
            db.Queues.Add(new QueueRow { TenantId = "default", Name = "default" });
        }

        if (!await db.Users.AnyAsync(u => u.TenantId == "default" && u.Name == "admin", ct))
        {
            db.Users.Add(new UserRow { TenantId = "default", Name = "admin", Role = Roles.PlatformAdmin, CreatedAt = now });
        }

        var (row, secret) = tokens.Issue("default", "admin", Roles.PlatformAdmin, null, "first platform admin, created at first start");
        db.Tokens.Add(row);
        await db.SaveChangesAsync(ct);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new StreamWriter(server.Data.AdminTokenPath, options))
        {
            await file.WriteLineAsync(secret);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(server.Data.AdminTokenPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        if (server.Options.PrintAdminToken)
        {
            Console.Out.WriteLine($"Platform admin token (shown once; also saved to {server.Data.AdminTokenPath}, readable only by you):");
            Console.Out.WriteLine(secret);
            Console.Out.Flush();
        }
    }

    private async Task ReconcileAsync(AiccDb db, CancellationToken ct)
    {
        var executor = services.GetRequiredService<IWorkloadExecutor>();
        var lifecycle = services.GetRequiredService<WorkloadLifecycle>();
        var live = await db.Workloads.AsNoTracking()
            .Where(w => w.State == WorkloadStates.Admitted || w.State == WorkloadStates.Running)
            .ToListAsync(ct);
        var attempts = new List<ActiveAttempt>();
        foreach (var w in live)
        {
            var a = await db.Attempts.AsNoTracking().FirstOrDefaultAsync(x => x.WorkloadId == w.Id && x.Number == w.Attempt, ct);
            var spec = JsonSerializer.Deserialize<JobSpec>(w.SpecJson, JsonBody.Options)!;
            var processes = a is null ? [] : JsonSerializer.Deserialize<List<ProcessRecord>>(a.ProcessesJson, JsonBody.Options) ?? [];
            attempts.Add(new ActiveAttempt(w.Id, w.Attempt, PlacementDto.Read(w.PlacementJson).Count, processes, spec.EffectiveTimeLimitSeconds, a?.StartedAt ?? a?.AdmittedAt ?? server.Time.GetUtcNow()));
        }

        var gone = await executor.ReconcileAsync(attempts, ct);
        foreach (var a in gone)
        {
            var outcome = executor.OutcomeWhileAway(a) ?? new AttemptOutcome(
                OutcomeKind.Lost,
                null,
                a.Processes.Count == 0 ? "the server stopped before the attempt started" : "the server restarted and the attempt's processes were gone");
            await lifecycle.EndedAsync(a.WorkloadId, a.Attempt, outcome, ct);
        }

        LogReconciled(logger, attempts.Count - gone.Count, gone.Count);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Reconciled: {Adopted} attempt(s) adopted, {Gone} requeued or settled")]
    private static partial void LogReconciled(ILogger logger, int adopted, int gone);
}

/// <summary>Resolves the installation id once the database exists.</summary>
public static class InstallationIdFactory
{
    public static InstallationId Create(IServiceProvider services)
    {
        var server = services.GetRequiredService<ServerContext>();
        server.Data.Create();
        using var scope = services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
        db.Database.Migrate();
        return new InstallationId(ServerInitializer.InstallationIdAsync(db, CancellationToken.None).GetAwaiter().GetResult());
    }
}
