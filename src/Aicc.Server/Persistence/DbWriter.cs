using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aicc.Server.Persistence;

/// <summary>
/// Group commit for the one SQLite writer. Small writes (a submission, an attempt started or ended)
/// queue here; whoever finds the queue idle drains it, staging every queued write on one context and
/// saving them with one SaveChanges in one transaction, so one commit covers up to <see cref="MaxBatch"/>
/// of them. A write that fails (a row-version conflict, a constraint) sends its batch down a slower
/// path with a savepoint per write, where it fails alone and the others commit.
/// Large transactions (the scheduling cycle) take the same gate through <see cref="AcquireAsync"/>,
/// so in-process writers never meet SQLite's busy handler, whose sleeps of 1 to 100 ms were most of
/// the submit latency (p99 313 ms at 8 clients before this).
/// </summary>
public sealed class DbWriter(IServiceScopeFactory scopes) : IDisposable
{
    /// <summary>Writes per transaction; bounds how long one commit holds the gate.</summary>
    public const int MaxBatch = 128;

    private readonly ConcurrentQueue<IWrite> _queue = new();
    private readonly ConcurrentQueue<IWrite> _background = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _draining;

    /// <summary>Transactions committed by the drainer (each covering one or more writes).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Writes committed.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Batches that failed as a whole and were run again one savepoint per write.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    private long _commits;
    private long _writes;
    private long _fallbacks;

    public void Dispose() => _gate.Dispose();

    /// <summary>
    /// Queues <paramref name="write"/>: it stages changes on the given context and must not call
    /// SaveChanges. Completes after the transaction that holds it commits, with its result, or with
    /// the exception that failed it (only this write's changes are then discarded).
    /// </summary>
    public Task<T> WriteAsync<T>(Func<AiccDb, CancellationToken, Task<T>> write, CancellationToken ct) =>
        WriteAsync(write, background: false, ct);

    /// <summary>
    /// As <see cref="WriteAsync{T}(Func{AiccDb, CancellationToken, Task{T}}, CancellationToken)"/>;
    /// a background write (an executor's report) goes after the writes a client waits for, so a flood
    /// of reports does not add to submit latency.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<AiccDb, CancellationToken, Task<T>> write, bool background, CancellationToken ct)
    {
        var op = new Write<T>(write, ct);
        (background ? _background : _queue).Enqueue(op);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            _ = Task.Run(DrainAsync, CancellationToken.None);
        }

        return op.Task;
    }

    /// <summary>
    /// Holds the writer for a large transaction of the caller's own (the scheduling cycle's commit);
    /// no batch runs until the returned handle is disposed.
    /// </summary>
    public async Task<IDisposable> AcquireAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        return new Release(_gate);
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            var batch = new List<IWrite>();
            while (batch.Count < MaxBatch && _queue.TryDequeue(out var op))
            {
                batch.Add(op);
            }

            while (batch.Count < MaxBatch && _background.TryDequeue(out var op))
            {
                batch.Add(op);
            }

            if (batch.Count > 0)
            {
                await _gate.WaitAsync(CancellationToken.None);
                try
                {
                    await RunBatchAsync(batch);
                }
                finally
                {
                    _gate.Release();
                }

                continue;
            }

            Volatile.Write(ref _draining, 0);

            // A write queued after the last TryDequeue but before the flag dropped found the flag
            // set and started no drainer; take the role back if so.
            if ((_queue.IsEmpty && _background.IsEmpty) || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private async Task RunBatchAsync(List<IWrite> batch)
    {
        // The common case: every write stages on one context and one SaveChanges sends them all, so
        // a batch costs one round of change detection and no savepoints. Writes see each other's
        // staged changes through the context's tracked entities. If anything fails (a conflicting
        // key, a row-version conflict, a write's own exception), the whole attempt is rolled back
        // and the batch runs again one savepoint per write, so only the culprit fails.
        if (batch.Count > 1 && await TryAllAtOnceAsync(batch))
        {
            return;
        }

        await OneByOneAsync(batch);
    }

    private async Task<bool> TryAllAtOnceAsync(List<IWrite> batch)
    {
        try
        {
            using var scope = scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
            await using var tx = await db.Database.BeginTransactionAsync(CancellationToken.None);
            foreach (var op in batch)
            {
                await op.StageAsync(db);
            }

            await db.SaveChangesAsync(CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }
#pragma warning disable CA1031 // Any failure sends the batch down the one-by-one path, which names the culprit.
        catch (Exception)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _fallbacks);
            return false;
        }

        Committed(batch);
        return true;
    }

    private async Task OneByOneAsync(List<IWrite> batch)
    {
        var staged = new List<IWrite>(batch.Count);
        try
        {
            using var scope = scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
            await using var tx = await db.Database.BeginTransactionAsync(CancellationToken.None);
            foreach (var op in batch)
            {
                try
                {
                    await op.StageAsync(db);

                    // Inside a transaction EF Core wraps this in a savepoint and rolls back to it on failure.
                    await db.SaveChangesAsync(CancellationToken.None);
                    staged.Add(op);

                    // Saved rows need no tracking; without this every later SaveChanges of the batch
                    // would scan them all again (quadratic in the batch size).
                    db.ChangeTracker.Clear();
                }
#pragma warning disable CA1031 // One write's failure, whatever it is, belongs to its caller alone.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    db.ChangeTracker.Clear();
                    op.Fail(e);
                }
            }

            await tx.CommitAsync(CancellationToken.None);
        }
#pragma warning disable CA1031 // The commit failed: every staged write fails with the cause.
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var op in batch.Where(o => !o.Done))
            {
                op.Fail(e);
            }

            return;
        }

        Committed(staged);
    }

    /// <summary>One transaction holding <paramref name="writes"/> committed: count it and answer their callers.</summary>
    private void Committed(List<IWrite> writes)
    {
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _writes, writes.Count);
        foreach (var op in writes)
        {
            op.Complete();
        }
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }

    private interface IWrite
    {
        bool Done { get; }

        Task StageAsync(AiccDb db);

        void Complete();

        void Fail(Exception e);
    }

    private sealed class Write<T>(Func<AiccDb, CancellationToken, Task<T>> write, CancellationToken ct) : IWrite
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _done.Task;

        public bool Done => _done.Task.IsCompleted;

        public async Task StageAsync(AiccDb db)
        {
            ct.ThrowIfCancellationRequested();
            _result = await write(db, ct);
        }

        public void Complete() => _done.TrySetResult(_result);

        public void Fail(Exception e)
        {
            if (e is OperationCanceledException && ct.IsCancellationRequested)
            {
                _done.TrySetCanceled(ct);
            }
            else
            {
                _done.TrySetException(e);
            }
        }
    }
}
