using System.Threading.RateLimiting;
using Aicc.Server.Api;
using Aicc.Server.Auth;
using Aicc.Server.Execution;
using Aicc.Server.Execution.Local;
using Aicc.Server.Inventory;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Hosting;

/// <summary>Builds the control plane: one host for <c>aicc server</c>, the tests and the benchmark.</summary>
public static class AiccServerHost
{
    public static IHostBuilder CreateHostBuilder(ServerOptions options, Action<IServiceCollection>? overrides = null) =>
        Host.CreateDefaultBuilder()
            .ConfigureLogging(logging =>
            {
                if (options.LogFormat == "json")
                {
                    logging.ClearProviders();
                    logging.AddJsonConsole(json =>
                    {
                        json.UseUtcTimestamp = true;
                        json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                        json.IncludeScopes = false;
                    });
                }

                logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
                logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            })
            .ConfigureWebHost(web =>
            {
                web.UseKestrel(k =>
                {
                    k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                    k.AddServerHeader = false;
                });
                web.UseUrls(options.Urls);
                web.ConfigureServices(services =>
                {
                    AddServices(services, options);
                    overrides?.Invoke(services);
                });
                web.Configure(Configure);
            });

    public static void AddServices(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DataDirectory>();
        services.AddSingleton(sp => options.Executor == "slurm"
            ? AcceleratorInventory.FromSlurm(options, sp.GetRequiredService<Execution.Slurm.SlurmClient>())
            : new AcceleratorInventory(options));
        services.AddSingleton<SchedulerSignal>();
        services.AddSingleton<ServerContext>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<WaitingBoard>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<SubmitValidator>();
        services.AddSingleton<DbWriter>();
        services.AddSingleton<WorkloadLifecycle>();
        services.AddSingleton(InstallationIdFactory.Create);
        if (options.Executor == "slurm")
        {
            services.AddSingleton(sp => new Execution.Slurm.SlurmToken(options.Slurm, sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => new Execution.Slurm.SlurmClient(new HttpClient(), options.Slurm, sp.GetRequiredService<Execution.Slurm.SlurmToken>()));
        }

        services.AddSingleton<IWorkloadExecutor>(sp => options.Executor switch
        {
            "none" => new NoopExecutor(sp.GetRequiredService<WorkloadLifecycle>(), finishAtOnce: true),
            "slurm" => ActivatorUtilities.CreateInstance<Execution.Slurm.SlurmExecutor>(sp),
            _ => ActivatorUtilities.CreateInstance<LocalExecutor>(sp),
        });
        // Pooled: a request, a cycle and a writer batch each take a context; building one costs more
        // than most of the queries it then runs.
        services.AddDbContextPool<AiccDb>((sp, db) =>
        {
            var data = sp.GetRequiredService<DataDirectory>();
            db.UseSqlite($"Data Source={data.DatabasePath};Pooling=True;Default Timeout=30");
            db.AddInterceptors(new SqlitePragmas());
        });
        services.AddHostedService<ServerInitializer>();
        services.AddSingleton<AuditLog>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditLog>());
        services.AddSingleton<SchedulingLoop>();
        services.AddHostedService(sp => sp.GetRequiredService<SchedulingLoop>());
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => JsonBody.Configure(o.SerializerOptions));
        services.AddOpenApi();
        services.AddRouting();
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (!http.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
                {
                    return RateLimitPartition.GetNoLimiter("none");
                }

                var caller = http.GetCaller();
                return caller is null
                    ? RateLimitPartition.GetTokenBucketLimiter("anon:" + http.Connection.RemoteIpAddress, _ => Bucket(options.AnonymousRateLimitPerSecond, options.AnonymousRateLimitPerSecond))
                    : RateLimitPartition.GetTokenBucketLimiter("tenant:" + caller.TenantId, _ => Bucket(options.RateLimitPerSecond, options.RateLimitBurst));
            });
            limiter.OnRejected = async (context, ct) =>
            {
                var retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: 429, title: "Too many requests", detail: $"rate limit reached; retry after {retry} s", type: "urn:aicc:problem:rate-limited")
                    .ExecuteAsync(context.HttpContext);
            };
        });
    }

    private static TokenBucketRateLimiterOptions Bucket(int perSecond, int burst) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    public static void Configure(IApplicationBuilder app)
    {
        app.UseExceptionHandler(error => error.Run(async context =>
        {
            var feature = context.Features.Get<IExceptionHandlerFeature>();
            var (status, detail) = feature?.Error switch
            {
                BadHttpRequestException bad => (bad.StatusCode, bad.Message),
                Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 5 or 6 } => (503, "the database is busy; retry shortly"),
                _ => (500, "an internal error occurred; the server log has details"),
            };
            if (status == 503)
            {
                context.Response.Headers.RetryAfter = "1";
            }

            await Results.Problem(statusCode: status, title: status == 500 ? "Internal error" : "Request failed", detail: detail).ExecuteAsync(context);
        }));
        app.UseMiddleware<AuditMiddleware>();
        app.UseMiddleware<AuthenticationMiddleware>();
        app.UseRateLimiter();
        app.UseMiddleware<RequireCallerMiddleware>();
        app.UseRouting();
        app.UseEndpoints(endpoints =>
        {
            endpoints.MapOpenApi();
            endpoints.MapOperationsEndpoints();
            var api = endpoints.MapGroup("/api/v1");
            api.MapTenantEndpoints();
            api.MapQueueEndpoints();
            api.MapNodeEndpoints();
            api.MapWorkloadEndpoints();
            api.MapUsageEndpoints();
        });
    }
}

/// <summary>WAL lets readers run beside the single writer; synchronous=NORMAL in WAL survives a killed
/// process (not a power cut) at a fraction of FULL's fsync cost.</summary>
internal sealed class SqlitePragmas : Microsoft.EntityFrameworkCore.Diagnostics.DbConnectionInterceptor
{
    public override void ConnectionOpened(System.Data.Common.DbConnection connection, Microsoft.EntityFrameworkCore.Diagnostics.ConnectionEndEventData eventData) =>
        Apply(connection);

    public override Task ConnectionOpenedAsync(System.Data.Common.DbConnection connection, Microsoft.EntityFrameworkCore.Diagnostics.ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Apply(connection);
        return Task.CompletedTask;
    }

    // A pooled connection keeps its settings, and EF Core opens a connection for every query: apply
    // the pragmas once per native SQLite handle instead of three extra statements per query.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> Applied = [];

    private static void Apply(System.Data.Common.DbConnection connection)
    {
        if (connection is Microsoft.Data.Sqlite.SqliteConnection { Handle: { } handle })
        {
            if (Applied.TryGetValue(handle, out _))
            {
                return;
            }

            Applied.AddOrUpdate(handle, handle);
        }

        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;";
        command.ExecuteNonQuery();
    }
}
