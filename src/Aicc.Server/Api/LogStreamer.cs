using System.Text;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aicc.Server.Api;

/// <summary>
/// Streams the log files of a workload's pods. With several pods each line carries the pod's name;
/// when following, it polls the files and the workload's state, goes on to the next attempt after a
/// retry, and ends once the workload has ended and every byte has been sent.
/// </summary>
public static class LogStreamer
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    private static readonly bool[] Streams = [false, true];

    public static async Task StreamAsync(Stream output, string id, int attempt, string? podFilter, bool follow, ServerContext server, IServiceScopeFactory scopes, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var (state, current, placementJson) = await ReadStateAsync(scopes, id, attempt, ct);
                if (attempt == 0)
                {
                    // Asked before the first attempt: follow it once it exists. A short job can be
                    // admitted, run and end between two polls, so an ended workload with an attempt
                    // still has its logs sent; only one that ended without any (cancelled while
                    // pending) ends the stream here.
                    if (current > 0 && follow)
                    {
                        attempt = current;
                        continue;
                    }

                    if (!follow || WorkloadStates.IsTerminal(state))
                    {
                        return;
                    }

                    await Task.Delay(Poll, ct);
                    continue;
                }

                var pods = PlacementDto.Read(placementJson).Where(p => podFilter is null || $"{p.PodSet}-{p.Index}" == podFilter).ToList();
                var sources = pods.SelectMany(p => Streams.Select(err => new Source(
                    server.Data.LogPath(id, attempt, p.PodSet, p.Index, err), pods.Count > 1 ? $"[{p.PodSet}-{p.Index}] " : ""))).ToList();
                while (true)
                {
                    var wrote = false;
                    foreach (var source in sources)
                    {
                        wrote |= await source.PumpAsync(output, final: false, ct);
                    }

                    if (wrote)
                    {
                        await output.FlushAsync(ct);
                    }

                    if (!follow)
                    {
                        break;
                    }

                    (state, current, _) = await ReadStateAsync(scopes, id, attempt, ct);
                    if (WorkloadStates.IsTerminal(state) || current != attempt || state == WorkloadStates.Pending)
                    {
                        break;
                    }

                    await Task.Delay(Poll, ct);
                }

                foreach (var source in sources)
                {
                    await source.PumpAsync(output, final: true, ct);
                }

                await output.FlushAsync(ct);
                if (!follow || WorkloadStates.IsTerminal(state))
                {
                    return;
                }

                // Retried or requeued: wait for the next attempt and go on with it.
                while (current == attempt && !WorkloadStates.IsTerminal(state))
                {
                    await Task.Delay(Poll, ct);
                    (state, current, _) = await ReadStateAsync(scopes, id, attempt, ct);
                }

                if (current != attempt)
                {
                    attempt = current;
                    await output.WriteAsync(Encoding.UTF8.GetBytes($"--- attempt {attempt} ---\n"), ct);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
    }

    private static async Task<(string State, int Attempt, string? Placement)> ReadStateAsync(IServiceScopeFactory scopes, string id, int attempt, CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AiccDb>();
        var w = await db.Workloads.AsNoTracking().Where(x => x.Id == id).Select(x => new { x.State, x.Attempt }).FirstAsync(ct);
        var placement = attempt > 0
            ? await db.Attempts.AsNoTracking().Where(a => a.WorkloadId == id && a.Number == attempt).Select(a => a.PlacementJson).FirstOrDefaultAsync(ct)
            : null;
        return (w.State, w.Attempt, placement);
    }

    private sealed class Source(string path, string prefix)
    {
        private readonly List<byte> _partial = [];
        private long _offset;

        public async Task<bool> PumpAsync(Stream output, bool final, CancellationToken ct)
        {
            var wrote = false;
            if (File.Exists(path))
            {
                await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                file.Seek(_offset, SeekOrigin.Begin);
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = await file.ReadAsync(buffer, ct)) > 0)
                {
                    _offset += read;
                    for (var i = 0; i < read; i++)
                    {
                        _partial.Add(buffer[i]);
                        if (buffer[i] == (byte)'\n')
                        {
                            await WriteLineAsync(output, ct);
                            wrote = true;
                        }
                    }
                }
            }

            if (final && _partial.Count > 0)
            {
                _partial.Add((byte)'\n');
                await WriteLineAsync(output, ct);
                wrote = true;
            }

            return wrote;
        }

        private async Task WriteLineAsync(Stream output, CancellationToken ct)
        {
            if (prefix.Length > 0)
            {
                await output.WriteAsync(Encoding.UTF8.GetBytes(prefix), ct);
            }

            await output.WriteAsync(_partial.ToArray(), ct);
            _partial.Clear();
        }
    }
}
