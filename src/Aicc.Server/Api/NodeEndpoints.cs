using System.Text.Json;
using Aicc.Server.Hosting;
using Aicc.Server.Inventory;
using Aicc.Server.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Api;

public sealed record NodeDto(string Name, long CpuMilli, long MemoryMiB, IReadOnlyList<DeviceRecord> Devices, bool Cordoned, bool Draining, string Source, long AllocatedAcceleratorMilli);

/// <summary>The node inventory; cordon stops new placements, drain also sends running work back to its queue.</summary>
public static class NodeEndpoints
{
    public static void MapNodeEndpoints(this IEndpointRouteBuilder api)
    {
        var nodes = api.MapGroup("/nodes").WithTags("Nodes");
        nodes.MapGet("/", ListAsync).WithSummary("Nodes, their devices and how much is allocated.");
        nodes.MapPost("/{name}/cordon", (string name, HttpContext http, AiccDb db, ServerContext server, CancellationToken ct) => SetAsync(name, http, db, server, cordon: true, drain: false, ct)).WithSummary("No new placements on this node.");
        nodes.MapPost("/{name}/uncordon", (string name, HttpContext http, AiccDb db, ServerContext server, CancellationToken ct) => SetAsync(name, http, db, server, cordon: false, drain: false, ct)).WithSummary("Accept placements again.");
        nodes.MapPost("/{name}/drain", (string name, HttpContext http, AiccDb db, ServerContext server, CancellationToken ct) => SetAsync(name, http, db, server, cordon: true, drain: true, ct)).WithSummary("Cordon and send the node's running work back to its queues.");
    }

    private static async Task<IResult> ListAsync(HttpContext http, AiccDb db, CancellationToken ct)
    {
        http.RequireCaller();
        var rows = await db.Nodes.AsNoTracking().OrderBy(n => n.Name).ToListAsync(ct);
        var placements = await db.Workloads.AsNoTracking()
            .Where(w => w.State == WorkloadStates.Admitted || w.State == WorkloadStates.Running)
            .Select(w => w.PlacementJson).ToListAsync(ct);
        var allocated = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var json in placements)
        {
            foreach (var pod in PlacementDto.Read(json))
            {
                allocated[pod.Node] = allocated.GetValueOrDefault(pod.Node) + (pod.Devices.Count * (long)pod.MilliPerDevice);
            }
        }

        return Results.Ok(rows.Select(n => ToDto(n, allocated.GetValueOrDefault(n.Name))));
    }

    public static NodeDto ToDto(NodeRow n, long allocated) => new(
        n.Name, n.CpuMilli, n.MemoryMiB, JsonSerializer.Deserialize<List<DeviceRecord>>(n.DevicesJson, JsonBody.Options) ?? [], n.Cordoned, n.Draining, n.Source, allocated);

    private static async Task<IResult> SetAsync(string name, HttpContext http, AiccDb db, ServerContext server, bool cordon, bool drain, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var row = await db.Nodes.FirstOrDefaultAsync(n => n.Name == name, ct);
        if (row is null)
        {
            return Problems.NotFound("node", name);
        }

        if (!caller.IsPlatformAdmin)
        {
            return Problems.Forbidden("nodes are managed by a platform admin");
        }

        row.Cordoned = cordon;
        row.Draining = drain;
        row.Version++;
        await db.SaveChangesAsync(ct);
        server.Signal.ConfigurationChanged();
        return Results.Ok(ToDto(row, 0));
    }
}
