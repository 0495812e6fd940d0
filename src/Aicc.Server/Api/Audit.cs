using System.Threading.Channels;
using Aicc.Server.Persistence;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aicc.Server.Api;

/// <summary>
/// One audit record per mutating or denied request: who (token id, never the secret), what (method
/// and path, never the body or query), when and the outcome. Records are queued and written in
/// batches so auditing does not add a database commit to every request.
/// </summary>
public sealed partial class AuditLog(DbWriter writer, ILogger<AuditLog> logger) : BackgroundService
{
    private readonly Channel<AuditRow> _queue = Channel.CreateBounded<AuditRow>(new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.Wait });
    private long _pending;

    public long Pending => Interlocked.Read(ref _pending);

    public ValueTask WriteAsync(AuditRow row)
    {
        Interlocked.Increment(ref _pending);
        return _queue.Writer.WriteAsync(row);
    }

    /// <summary>Waits until every queued record is in the database (tests and shutdown).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        while (Pending > 0)
        {
            await Task.Delay(5, ct);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<AuditRow>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < 500 && _queue.Reader.TryRead(out var row))
                {
                    batch.Add(row);
                }

                await SaveAsync(batch, CancellationToken.None);
            }
        }
        catch (OperationCanceledException)
        {
            while (_queue.Reader.TryRead(out var row))
            {
                batch.Add(row);
            }

            await SaveAsync(batch, CancellationToken.None);
        }
    }

    private async Task SaveAsync(List<AuditRow> batch, CancellationToken ct)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            // A background write: it joins the writer's next batch behind the clients' writes
            // instead of taking the database for a transaction of its own.
            var rows = batch.ToArray();
            await writer.WriteAsync(
                (db, _) =>
                {
                    db.Audit.AddRange(rows);
                    return Task.FromResult(rows.Length);
                },
                background: true,
                ct);
        }
        catch (Exception e) when (e is Microsoft.EntityFrameworkCore.DbUpdateException or Microsoft.Data.Sqlite.SqliteException)
        {
            LogAuditFailed(logger, batch.Count, e.Message);
        }
        finally
        {
            Interlocked.Add(ref _pending, -batch.Count);
            batch.Clear();
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Could not write {Count} audit records: {Error}")]
    private static partial void LogAuditFailed(ILogger logger, int count, string error);
}

public sealed class AuditMiddleware(RequestDelegate next, AuditLog audit, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var status = context.Response.StatusCode;
            var method = context.Request.Method;
            var mutating = !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method);
            var denied = status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden or StatusCodes.Status429TooManyRequests;
            if ((mutating || denied) && context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
            {
                var caller = context.GetCaller();
                await audit.WriteAsync(new AuditRow
                {
                    At = time.GetUtcNow(),
                    TenantId = caller?.TenantId ?? "",
                    Actor = caller?.TokenId ?? "anonymous",
                    Method = method,
                    Path = Clean(context.Request.Path.Value ?? ""),
                    Status = status,
                    Outcome = status switch
                    {
                        < 400 => "ok",
                        401 or 403 or 429 => "denied",
                        < 500 => "rejected",
                        _ => "error",
                    },
                });
            }
        }
    }

    /// <summary>Keeps a logged path on one line and bounded, whatever a client sent.</summary>
    private static string Clean(string path)
    {
        var cleaned = new string([.. path.Take(512).Select(c => char.IsControl(c) ? '?' : c)]);
        return cleaned;
    }
}
