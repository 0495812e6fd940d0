using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Tests.Persistence;

public sealed class DbWriterTests : IDisposable
{
    private readonly TestServer _server = new();

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task WriteAsync_WritesQueuedWhileTheGateIsHeld_CommitTogetherAndAllLand()
    {
        var writer = _server.Get<DbWriter>();
        var commitsBefore = writer.Commits;
        Task<int>[] writes;
        using (await writer.AcquireAsync(CancellationToken.None))
        {
            writes = [.. Enumerable.Range(0, 100).Select(i => writer.WriteAsync(
                (db, _) =>
                {
                    db.Settings.Add(new SettingRow { Key = $"batch-{i}", Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                    return Task.FromResult(i);
                },
                CancellationToken.None))];
            Assert.DoesNotContain(writes, w => w.IsCompleted);
        }

        Assert.Equal(Enumerable.Range(0, 100), await Task.WhenAll(writes));
        Assert.True(writer.Commits - commitsBefore < 100, $"{writer.Commits - commitsBefore} commits for 100 writes");
        await using var check = _server.Db();
        Assert.Equal(100, await check.Settings.CountAsync(s => s.Key.StartsWith("batch-")));
    }

    [Fact]
    public async Task WriteAsync_OneWriteOfABatchFails_OnlyItFailsAndNothingOfItIsStored()
    {
        var writer = _server.Get<DbWriter>();
        await writer.WriteAsync((db, _) => Task.FromResult(db.Settings.Add(new SettingRow { Key = "taken", Value = "first" })), CancellationToken.None);
        Task<bool> before, duplicate, throws, after;
        using (await writer.AcquireAsync(CancellationToken.None))
        {
            before = Insert(writer, "before");
            duplicate = writer.WriteAsync(
                (db, _) =>
                {
                    db.Settings.Add(new SettingRow { Key = "half-written", Value = "x" });
                    db.Settings.Add(new SettingRow { Key = "taken", Value = "second" });
                    return Task.FromResult(true);
                },
                CancellationToken.None);
            throws = writer.WriteAsync<bool>(
                (db, _) =>
                {
                    db.Settings.Add(new SettingRow { Key = "staged-then-thrown", Value = "x" });
                    throw new InvalidOperationException("the write's own logic failed");
                },
                CancellationToken.None);
            after = Insert(writer, "after");
        }

        Assert.True(await before);
        Assert.True(await after);
        await Assert.ThrowsAsync<DbUpdateException>(() => duplicate);
        Assert.Equal("the write's own logic failed", (await Assert.ThrowsAsync<InvalidOperationException>(() => throws)).Message);
        await using var check = _server.Db();
        var keys = await check.Settings.Select(s => s.Key).ToListAsync();
        Assert.Contains("before", keys);
        Assert.Contains("after", keys);
        Assert.DoesNotContain("half-written", keys);
        Assert.DoesNotContain("staged-then-thrown", keys);
        Assert.Equal("first", (await check.Settings.SingleAsync(s => s.Key == "taken")).Value);
    }

    [Fact]
    public async Task WriteAsync_BatchFailsAsAWhole_RunsAgainOneByOneAndRowsMadeOutsideTheWriteLandOnce()
    {
        // Like a submission: the row object is made before the write and only added inside it, so
        // after the all-at-once attempt fails, the same object is added again on the slower path.
        var writer = _server.Get<DbWriter>();
        await Insert(writer, "occupied");
        var fallbacksBefore = writer.Fallbacks;
        var rows = Enumerable.Range(0, 20).Select(i => new EventRow { WorkloadId = "wl-batch", At = DateTimeOffset.UnixEpoch, Type = "Test", Message = $"row {i}" }).ToList();
        Task<long>[] writes;
        Task<bool> duplicate;
        using (await writer.AcquireAsync(CancellationToken.None))
        {
            writes = [.. rows.Take(10).Select(r => AddEvent(writer, r))];
            duplicate = Insert(writer, "occupied");
            writes = [.. writes, .. rows.Skip(10).Select(r => AddEvent(writer, r))];
        }

        await Assert.ThrowsAsync<DbUpdateException>(() => duplicate);
        await Task.WhenAll(writes);
        Assert.True(writer.Fallbacks > fallbacksBefore, "the failing batch should have been run again one write at a time");
        await using var check = _server.Db();
        var stored = await check.Events.Where(e => e.WorkloadId == "wl-batch").OrderBy(e => e.Id).Select(e => e.Message).ToListAsync();
        Assert.Equal(rows.Select(r => r.Message), stored);
    }

    private static Task<long> AddEvent(DbWriter writer, EventRow row) =>
        writer.WriteAsync(
            (db, _) =>
            {
                db.Events.Add(row);
                return Task.FromResult(row.Id);
            },
            CancellationToken.None);

    private static Task<bool> Insert(DbWriter writer, string key) =>
        writer.WriteAsync(
            (db, _) =>
            {
                db.Settings.Add(new SettingRow { Key = key, Value = "x" });
                return Task.FromResult(true);
            },
            CancellationToken.None);
}
