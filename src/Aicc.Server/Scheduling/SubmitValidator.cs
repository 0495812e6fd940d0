using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Validation;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Scheduling;

/// <summary>
/// The core's <see cref="WorkloadValidator"/> for the current nodes and queues, rebuilt only when the
/// configuration version changes, so a submission does not rebuild a scheduler.
/// </summary>
public sealed class SubmitValidator(ServerContext server) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private (long Version, Scheduler? Scheduler) _cached = (-1, null);

    public void Dispose() => _lock.Dispose();

    public async Task<IReadOnlyList<ValidationProblem>> ValidateAsync(AiccDb db, WorkloadSpec spec, CancellationToken ct)
    {
        var version = server.Signal.ConfigVersion;
        var cached = _cached;
        if (cached.Version != version || cached.Scheduler is null)
        {
            await _lock.WaitAsync(ct);
            try
            {
                if (_cached.Version != version || _cached.Scheduler is null)
                {
                    var nodes = await db.Nodes.AsNoTracking().ToListAsync(ct);
                    var queues = await db.Queues.AsNoTracking().ToListAsync(ct);
                    var cohorts = await db.Cohorts.AsNoTracking().ToListAsync(ct);
                    foreach (var n in nodes)
                    {
                        // A cordoned node still counts for "could this ever fit".
                        n.Cordoned = false;
                        n.Draining = false;
                    }

                    var scheduler = ClusterSnapshot.Build(server.Inventory.Catalog, nodes, queues, cohorts, server.Policy, out var problems);
                    if (scheduler is null)
                    {
                        return [new ValidationProblem("queue", "the queue configuration is inconsistent: " + string.Join("; ", problems))];
                    }

                    _cached = (version, scheduler);
                }

                cached = _cached;
            }
            finally
            {
                _lock.Release();
            }
        }

        return cached.Scheduler!.Validator.Validate(spec);
    }
}
