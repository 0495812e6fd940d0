using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Aicc.Server.Persistence;

/// <summary>The server's database: the single source of truth the scheduling loop snapshots.</summary>
public sealed class AiccDb(DbContextOptions<AiccDb> options) : DbContext(options)
{
    public DbSet<TenantRow> Tenants => Set<TenantRow>();

    public DbSet<UserRow> Users => Set<UserRow>();

    public DbSet<TokenRow> Tokens => Set<TokenRow>();

    public DbSet<QueueRow> Queues => Set<QueueRow>();

    public DbSet<CohortRow> Cohorts => Set<CohortRow>();

    public DbSet<NodeRow> Nodes => Set<NodeRow>();

    public DbSet<WorkloadRow> Workloads => Set<WorkloadRow>();

    public DbSet<AttemptRow> Attempts => Set<AttemptRow>();

    public DbSet<EventRow> Events => Set<EventRow>();

    public DbSet<AuditRow> Audit => Set<AuditRow>();

    public DbSet<UsageRow> Usage => Set<UsageRow>();

    public DbSet<SettingRow> Settings => Set<SettingRow>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite cannot order or compare DateTimeOffset; UTC ticks keep ordering and precision.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcTicksConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UtcTicksConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<TenantRow>(e =>
        {
            e.ToTable("tenants");
            e.HasKey(x => x.Id);
        });
        modelBuilder.Entity<UserRow>(e =>
        {
            e.ToTable("users");
            e.HasIndex(x => new { x.TenantId, x.Name }).IsUnique();
        });
        modelBuilder.Entity<TokenRow>(e =>
        {
            e.ToTable("tokens");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.Hash).IsUnique();
            e.HasIndex(x => x.TenantId);
        });
        modelBuilder.Entity<QueueRow>(e =>
        {
            e.ToTable("queues");
            e.HasKey(x => new { x.TenantId, x.Name });
            e.Property(x => x.Version).IsConcurrencyToken();
            e.Ignore(x => x.CoreName);
        });
        modelBuilder.Entity<CohortRow>(e =>
        {
            e.ToTable("cohorts");
            e.HasKey(x => x.Name);
            e.Property(x => x.Version).IsConcurrencyToken();
        });
        modelBuilder.Entity<NodeRow>(e =>
        {
            e.ToTable("nodes");
            e.HasKey(x => x.Name);
            e.Property(x => x.Version).IsConcurrencyToken();
        });
        modelBuilder.Entity<WorkloadRow>(e =>
        {
            e.ToTable("workloads");
            e.HasKey(x => x.Seq);
            e.HasIndex(x => x.Id).IsUnique();
            e.HasIndex(x => new { x.TenantId, x.IdempotencyKey }).IsUnique();
            e.HasIndex(x => new { x.State, x.Seq });
            e.HasIndex(x => new { x.TenantId, x.Seq });
            e.Property(x => x.Version).IsConcurrencyToken();
        });
        modelBuilder.Entity<AttemptRow>(e =>
        {
            e.ToTable("attempts");
            e.HasIndex(x => new { x.WorkloadId, x.Number }).IsUnique();
        });
        modelBuilder.Entity<EventRow>(e =>
        {
            e.ToTable("events");
            e.HasIndex(x => new { x.WorkloadId, x.Id });
        });
        modelBuilder.Entity<AuditRow>(e => e.ToTable("audit"));
        modelBuilder.Entity<UsageRow>(e =>
        {
            e.ToTable("usage");
            e.HasIndex(x => new { x.TenantId, x.At });
        });
        modelBuilder.Entity<SettingRow>(e =>
        {
            e.ToTable("settings");
            e.HasKey(x => x.Key);
        });
    }

    private sealed class UtcTicksConverter() : ValueConverter<DateTimeOffset, long>(
        v => v.UtcTicks,
        v => new DateTimeOffset(v, TimeSpan.Zero));
}

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting a server.</summary>
public sealed class DesignTimeAiccDbFactory : IDesignTimeDbContextFactory<AiccDb>
{
    public AiccDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<AiccDb>().UseSqlite("Data Source=design-time.db").Options);
}
