using System.Globalization;
using System.Text;
using Aicc.Server.Hosting;
using Aicc.Server.Persistence;
using Aicc.Server.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Aicc.Server.Api;

public sealed record UsageLine(string Tenant, string Model, double AcceleratorHours, double ScuHours, double CpuHours);

public sealed record UsageReport(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<UsageLine> Lines);

/// <summary>Health, readiness, Prometheus metrics, usage and the API reference page.</summary>
public static class OperationsEndpoints
{
    public static void MapOperationsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n")).ExcludeFromDescription();
        app.MapGet("/readyz", (ServerContext server) => server.Ready ? Results.Text("ready\n") : Results.Text("starting\n", statusCode: 503)).ExcludeFromDescription();
        app.MapGet("/metrics", MetricsAsync).ExcludeFromDescription();
        app.MapGet("/docs", () => Results.Content(ReferencePage, "text/html; charset=utf-8")).ExcludeFromDescription();
    }

    public static void MapUsageEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapGet("/usage", UsageAsync).WithTags("Usage").WithSummary("Accelerator-, SCU- and CPU-hours per tenant and model in [from, to).");
    }

    private static async Task<IResult> UsageAsync(HttpContext http, AiccDb db, ServerContext server, string? tenant, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        var caller = http.RequireCaller();
        var all = caller.IsPlatformAdmin && tenant == "*";
        if (!all && !caller.TryResolveTenant(tenant, out _))
        {
            return Problems.NotFound("tenant", tenant!);
        }

        caller.TryResolveTenant(tenant, out var t);
        var start = from ?? DateTimeOffset.UnixEpoch;
        var end = to ?? server.Time.GetUtcNow().AddSeconds(1);
        if (end <= start)
        {
            return Problems.Invalid("to", "must be after from");
        }

        var rows = await db.Usage.AsNoTracking().Where(u => (all || u.TenantId == t) && u.At >= start && u.At < end).ToListAsync(ct);
        var lines = rows.GroupBy(u => (u.TenantId, u.Model))
            .Select(g => new UsageLine(g.Key.TenantId, g.Key.Model, Hours(g.Sum(u => u.AcceleratorMilliSeconds)), Hours(g.Sum(u => u.ScuMilliSeconds)), Hours(g.Sum(u => u.CpuMilliSeconds))))
            .OrderBy(l => l.Tenant).ThenBy(l => l.Model).ToList();
        return Results.Ok(new UsageReport(start, end, lines));
    }

    /// <summary>milli-unit × milliseconds → unit-hours.</summary>
    private static double Hours(long milliUnitMilliSeconds) => Math.Round(milliUnitMilliSeconds / 1000.0 / 3_600_000.0 * 1000.0, 6);

    private static async Task<IResult> MetricsAsync(AiccDb db, ServerMetrics metrics, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        var counts = await db.Workloads.AsNoTracking()
            .Where(w => w.State == WorkloadStates.Pending || w.State == WorkloadStates.Admitted || w.State == WorkloadStates.Running)
            .GroupBy(w => new { w.TenantId, w.Queue, w.State })
            .Select(g => new { g.Key.TenantId, g.Key.Queue, g.Key.State, Count = g.Count() })
            .ToListAsync(ct);
        text.Append("# HELP aicc_workloads Workloads by queue and state.\n# TYPE aicc_workloads gauge\n");
        foreach (var c in counts.OrderBy(c => c.TenantId).ThenBy(c => c.Queue).ThenBy(c => c.State))
        {
            text.Append(inv, $"aicc_workloads{{tenant=\"{c.TenantId}\",queue=\"{c.Queue}\",state=\"{c.State.ToLowerInvariant()}\"}} {c.Count}\n");
        }

        text.Append("# HELP aicc_accelerator_allocation_ratio Allocated share of all accelerators after the last cycle.\n# TYPE aicc_accelerator_allocation_ratio gauge\n");
        text.Append(inv, $"aicc_accelerator_allocation_ratio {(metrics.TotalMilli == 0 ? 0 : (double)metrics.AllocatedMilli / metrics.TotalMilli):0.####}\n");
        text.Append("# HELP aicc_cycle_duration_seconds Scheduling cycle duration.\n# TYPE aicc_cycle_duration_seconds summary\n");
        text.Append(inv, $"aicc_cycle_duration_seconds_sum {metrics.CycleSecondsSum:0.######}\naicc_cycle_duration_seconds_count {metrics.Cycles}\n");
        text.Append("# HELP aicc_time_to_admission_seconds Time from submission to admission.\n# TYPE aicc_time_to_admission_seconds summary\n");
        text.Append(inv, $"aicc_time_to_admission_seconds_sum {metrics.AdmissionWaitSecondsSum:0.######}\naicc_time_to_admission_seconds_count {metrics.Admissions}\n");
        var usage = await db.Usage.AsNoTracking().GroupBy(u => new { u.TenantId, u.Model })
            .Select(g => new { g.Key.TenantId, g.Key.Model, Acc = g.Sum(u => u.AcceleratorMilliSeconds), Cpu = g.Sum(u => u.CpuMilliSeconds) }).ToListAsync(ct);
        text.Append("# HELP aicc_tenant_accelerator_seconds_total Accelerator-seconds used by ended attempts.\n# TYPE aicc_tenant_accelerator_seconds_total counter\n");
        foreach (var u in usage.Where(u => u.Model.Length > 0))
        {
            text.Append(inv, $"aicc_tenant_accelerator_seconds_total{{tenant=\"{u.TenantId}\",model=\"{u.Model}\"}} {u.Acc / 1_000_000.0:0.###}\n");
        }

        text.Append("# HELP aicc_tenant_cpu_seconds_total CPU-seconds used by ended attempts.\n# TYPE aicc_tenant_cpu_seconds_total counter\n");
        foreach (var u in usage.GroupBy(u => u.TenantId))
        {
            text.Append(inv, $"aicc_tenant_cpu_seconds_total{{tenant=\"{u.Key}\"}} {u.Sum(x => x.Cpu) / 1_000_000.0:0.###}\n");
        }

        foreach (var (name, value) in metrics.Counters.OrderBy(c => c.Key))
        {
            text.Append(inv, $"# TYPE {name} counter\n{name} {value}\n");
        }

        return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }

    /// <summary>A self-contained page that renders /openapi/v1.json; nothing is loaded from elsewhere.</summary>
    private const string ReferencePage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Aicc API reference</title>
        <style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
        h2{border-bottom:1px solid #ccc}.op{margin:.6rem 0;padding:.4rem .6rem;background:#f6f6f6;border-radius:4px}
        .m{display:inline-block;width:4.5rem;font-weight:bold}code{font-size:.95em}</style></head>
        <body><h1>Aicc API reference</h1>
        <p>Every call under <code>/api/v1</code> needs <code>Authorization: Bearer &lt;token&gt;</code>. Errors are RFC 9457 problem details.
        The machine-readable document is <a href="/openapi/v1.json">/openapi/v1.json</a>.</p>
        <div id="ops">Loading…</div>
        <script>
        fetch('/openapi/v1.json').then(r=>r.json()).then(doc=>{
          const groups={};
          for(const [path,item] of Object.entries(doc.paths||{})){
            for(const [method,op] of Object.entries(item)){
              if(typeof op!=='object'||!op.responses)continue;
              const tag=(op.tags&&op.tags[0])||'Other';(groups[tag]=groups[tag]||[]).push({path,method,op});
            }
          }
          const root=document.getElementById('ops');root.textContent='';
          for(const [tag,ops] of Object.entries(groups)){
            const h=document.createElement('h2');h.textContent=tag;root.appendChild(h);
            for(const {path,method,op} of ops){
              const d=document.createElement('div');d.className='op';
              const m=document.createElement('span');m.className='m';m.textContent=method.toUpperCase();
              const c=document.createElement('code');c.textContent=path;
              const s=document.createElement('div');s.textContent=op.summary||'';
              const p=(op.parameters||[]).map(x=>x.name+' ('+x.in+')').join(', ');
              const ps=document.createElement('div');ps.textContent=p?'parameters: '+p:'';
              d.append(m,c,s,ps);root.appendChild(d);
            }
          }
        });
        </script></body></html>
        """;
}
