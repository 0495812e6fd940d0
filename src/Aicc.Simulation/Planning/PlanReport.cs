using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ScottPlot;

namespace Aicc.Simulation.Planning;

/// <summary>Writes a plan as <c>plan.json</c>, <c>plan.md</c> and <c>cost-vs-slo.png</c>.</summary>
public static class PlanReport
{
    public const string JsonFile = "plan.json", MarkdownFile = "plan.md", PlotFile = "cost-vs-slo.png";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static IReadOnlyList<string> Write(PlanResult plan, string directory)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, JsonFile);
        var md = Path.Combine(directory, MarkdownFile);
        var png = Path.Combine(directory, PlotFile);
        WriteAtomically(json, JsonSerializer.Serialize(ToJson(plan), Indented) + "\n");
        WriteAtomically(md, Markdown(plan));
        Plot(plan, png);
        return [md, json, png];
    }

    public static Dictionary<string, object?> ToJson(PlanResult plan)
    {
        var o = plan.Options;
        var b = plan.Buildout;
        var site = o.Catalog.Site;
        return new()
        {
            ["name"] = o.Demand.Name,
            ["slo"] = o.Slo.Text,
            ["slo_met"] = plan.SloMet,
            ["policy"] = o.Policy.Name,
            ["horizon_years"] = o.Demand.HorizonYears,
            ["currency"] = site.Currency,
            ["training"] = plan.TrainingTrace is not { } trace ? null : new Dictionary<string, object?>
            {
                ["trace"] = trace.Source,
                ["jobs"] = trace.Jobs.Count,
                ["span_days"] = R(trace.SpanSeconds / 86_400, 3),
                ["scu_hours"] = R(trace.TotalGpuSeconds / 3600),
                ["server_type"] = plan.Training?.Type.Name,
                ["servers"] = plan.Training?.Servers,
                ["gpus"] = plan.Training?.Gpus,
                ["measured"] = plan.Training is { } t && double.IsFinite(t.Measured) ? R(t.Measured, 3) : null,
                ["measured_text"] = plan.Training is { } t2 ? o.Slo.Format(t2.Measured) : null,
                ["searches"] = plan.Searches.Select(s => new Dictionary<string, object?>
                {
                    ["server_type"] = s.Type.Name,
                    ["met"] = s.Best is not null,
                    ["servers"] = s.Best?.Servers,
                    ["yearly_cost"] = s.Best is { } best ? R(best.YearlyCost) : null,
                    ["closest_servers"] = s.Closest.Servers,
                    ["closest_measured"] = double.IsFinite(s.Closest.Measured) ? R(s.Closest.Measured, 3) : null,
                    ["hit_bound"] = s.HitBound,
                    ["replays"] = s.Evaluated.Select(c => new Dictionary<string, object?>
                    {
                        ["servers"] = c.Servers,
                        ["measured"] = double.IsFinite(c.Measured) ? R(c.Measured, 3) : null,
                        ["met"] = c.Met,
                        ["yearly_cost"] = R(c.YearlyCost),
                        ["wall_s"] = R(c.WallSeconds, 3),
                    }).ToList(),
                }).ToList(),
            },
            ["inference"] = plan.Services.Select(s => new Dictionary<string, object?>
            {
                ["name"] = s.Service.Name,
                ["requests_per_second"] = R(s.RequestsPerSecond, 3),
                ["server_type"] = s.Type.Name,
                ["gpu_s_per_request"] = R(s.GpuSecondsPerRequest, 6),
                ["gpus_needed"] = R(s.GpusNeeded, 2),
                ["servers"] = s.Servers,
                ["target_utilisation"] = s.Service.TargetUtilisation,
            }).ToList(),
            ["servers"] = b.Servers.Select(s => new Dictionary<string, object?>
            {
                ["type"] = s.Type.Name,
                ["accelerator"] = s.Type.Accelerator,
                ["count"] = s.Count,
                ["gpus"] = s.Gpus,
                ["scu"] = R(s.Scu, 2),
            }).ToList(),
            ["totals"] = new Dictionary<string, object?> { ["servers"] = b.ServerTotal, ["gpus"] = b.Gpus, ["scu"] = R(b.Scu, 2) },
            ["racks"] = new Dictionary<string, object?>
            {
                ["total"] = b.Racks,
                ["network"] = b.NetworkRacks,
                ["by_type"] = b.ServerRacks.Select(r => new Dictionary<string, object?>
                {
                    ["type"] = r.ServerType,
                    ["servers_per_rack"] = r.ServersPerRack,
                    ["racks"] = r.Racks,
                    ["limited_by"] = r.LimitedBy,
                }).ToList(),
            },
            ["power_kw"] = new Dictionary<string, object?> { ["it"] = R(b.ItKw, 2), ["facility"] = R(b.FacilityKw, 2), ["pue"] = site.Pue },
            ["network"] = new Dictionary<string, object?>
            {
                ["endpoints"] = b.Network.Endpoints,
                ["switch_ports"] = b.Network.SwitchPorts,
                ["leaf_switches"] = b.Network.Leaves,
                ["spine_switches"] = b.Network.Spines,
                ["fits_two_tiers"] = b.Network.FitsTwoTiers,
            },
            ["storage_tb"] = new Dictionary<string, object?> { ["usable"] = R(b.StorageUsableTb, 2), ["raw"] = R(b.StorageRawTb, 2) },
            ["cost"] = new Dictionary<string, object?>
            {
                ["capex"] = R(b.Capex),
                ["capex_servers"] = R(b.ServerCapex),
                ["capex_network"] = R(b.NetworkCapex),
                ["capex_storage"] = R(b.StorageCapex),
                ["opex_per_year"] = R(b.OpexPerYear),
                ["electricity_per_year"] = R(b.ElectricityPerYear),
                ["maintenance_per_year"] = R(b.MaintenancePerYear),
                ["yearly_cost"] = R(b.YearlyCost),
            },
            ["revenue"] = new Dictionary<string, object?>
            {
                ["utilisation"] = o.Demand.RevenueUtilisation,
                ["per_year"] = R(plan.RevenuePerYear),
                ["payback_years"] = plan.PaybackYears is { } p ? R(p, 2) : null,
                ["unpriced_models"] = plan.Unpriced,
            },
            ["replays"] = plan.Replays,
            ["wall_s"] = R(plan.WallSeconds, 2),
        };
    }

    public static string Markdown(PlanResult plan)
    {
        var o = plan.Options;
        var b = plan.Buildout;
        var cur = o.Catalog.Site.Currency;
        var sb = new StringBuilder();
        sb.Append(C, $"# Plan: {o.Demand.Name}\n\n");
        sb.Append(C, $"Demand `{o.Demand.Source}`, horizon {o.Demand.HorizonYears} years, SLO `{o.Slo.Text}` on replay policy `{o.Policy.Name}`. ");
        sb.Append(plan.SloMet ? "**The SLO is met.**\n\n" : "**No server mix within the search bounds meets the SLO; the closest is shown.**\n\n");
        if (plan.TrainingTrace is { } trace)
        {
            sb.Append(C, $"## Training pool\n\nTrace {trace.Source}: {trace.Jobs.Count:N0} jobs over {trace.SpanSeconds / 86_400:0.00} days, {trace.TotalGpuSeconds / 3600:N0} SCU-hours after growth.\n\n");
            sb.Append("| server type | smallest count meeting the SLO | measured there | closest (count: measured) | yearly cost of the plan | replays |\n|---|---|---|---|---|---|\n");
            foreach (var s in plan.Searches.OrderBy(s => s.Best?.YearlyCost ?? double.MaxValue))
            {
                var met = s.Best is { } best ? best.Servers.ToString(C) : s.HitBound ? "none up to the bound" : "none (replay budget)";
                sb.Append(C, $"| {s.Type.Name} | {met} | {(s.Best is { } b1 ? o.Slo.Format(b1.Measured) : "—")} | {s.Closest.Servers}: {o.Slo.Format(s.Closest.Measured)} | {(s.Best is { } b2 ? Money(b2.YearlyCost, cur) : "—")} | {s.Evaluated.Count} |\n");
            }

            if (plan.Training is { } t)
            {
                sb.Append(C, $"\nChosen: **{t.Servers} × {t.Type.Name}** ({t.Gpus} GPUs), {o.Slo.Label.Split(',')[0]} {o.Slo.Format(t.Measured)} (limit {o.Slo.Format(o.Slo.Limit)}).\n\n");
            }
        }

        if (plan.Services.Count > 0)
        {
            sb.Append("## Inference services\n\n| service | requests/s | server type | GPU-s per request | GPUs needed | servers |\n|---|---|---|---|---|---|\n");
            foreach (var s in plan.Services)
            {
                sb.Append(C, $"| {s.Service.Name} | {s.RequestsPerSecond:0.##} | {s.Type.Name} | {s.GpuSecondsPerRequest:0.#####} | {s.GpusNeeded:0.0} (at {s.Service.TargetUtilisation:P0}) | {s.Servers} |\n");
            }

            sb.Append('\n');
        }

        sb.Append("## Servers\n\n| type | accelerator | servers | GPUs | SCU |\n|---|---|---|---|---|\n");
        foreach (var s in b.Servers)
        {
            sb.Append(C, $"| {s.Type.Name} | {s.Type.Accelerator} | {s.Count} | {s.Gpus} | {s.Scu:0.#} |\n");
        }

        sb.Append(C, $"| **total** | | **{b.ServerTotal}** | **{b.Gpus}** | **{b.Scu:0.#}** |\n\n");
        sb.Append("## Facility\n\n| item | value |\n|---|---|\n");
        foreach (var r in b.ServerRacks)
        {
            sb.Append(C, $"| racks of {r.ServerType} | {r.Racks} ({r.ServersPerRack} per rack, limited by {r.LimitedBy}) |\n");
        }

        var site = o.Catalog.Site;
        sb.Append(C, $"| network racks | {b.NetworkRacks} |\n| racks in all | {b.Racks} |\n");
        sb.Append(C, $"| IT power | {b.ItKw:N1} kW |\n| facility power (PUE {site.Pue}) | {b.FacilityKw:N1} kW |\n");
        sb.Append(C, $"| network | {b.Network.Endpoints} ports: {b.Network.Leaves} leaf + {b.Network.Spines} spine switches of {b.Network.SwitchPorts} ports, non-blocking two-tier fat tree{(b.Network.FitsTwoTiers ? "" : " (**exceeds two tiers: k²/2 endpoints; plan a third tier**)")} |\n");
        sb.Append(C, $"| storage | {b.StorageUsableTb:N0} TB usable, {b.StorageRawTb:N0} TB raw |\n\n");
        sb.Append("## Money\n\n| item | value |\n|---|---|\n");
        sb.Append(C, $"| capex | {Money(b.Capex, cur)} (servers {Money(b.ServerCapex, cur)}, network {Money(b.NetworkCapex, cur)}, storage {Money(b.StorageCapex, cur)}) |\n");
        sb.Append(C, $"| opex per year | {Money(b.OpexPerYear, cur)} (electricity {Money(b.ElectricityPerYear, cur)}, maintenance {Money(b.MaintenancePerYear, cur)}) |\n");
        sb.Append(C, $"| yearly cost (capex / {site.DepreciationYears} years + opex) | {Money(b.YearlyCost, cur)} |\n");
        sb.Append(C, $"| revenue per year (at {o.Demand.RevenueUtilisation:P0} of GPU-hours sold) | {Money(plan.RevenuePerYear, cur)} |\n");
        sb.Append(C, $"| payback | {(plan.PaybackYears is { } p ? p.ToString("0.0", C) + " years" : "never: revenue does not cover opex")} |\n");
        if (plan.Unpriced.Count > 0)
        {
            sb.Append(C, $"\nNo GPU-hour price for {string.Join(", ", plan.Unpriced)}: those GPUs earn nothing in the revenue figure.\n");
        }

        sb.Append(C, $"\n{plan.Replays} replays in {plan.WallSeconds:0.0} s. The curve of yearly cost against the SLO metric is in `{PlotFile}`.\n");
        return sb.ToString();
    }

    /// <summary>Yearly cost of the whole plan against the SLO metric, one line per server type, the limit dashed.</summary>
    public static void Plot(PlanResult plan, string path)
    {
        var slo = plan.Options.Slo;
        var plot = new Plot();
        plot.Title($"Yearly cost vs {slo.Text} — {plan.Options.Demand.Name}");
        plot.XLabel(slo.Label);
        plot.YLabel($"yearly cost of the plan, thousand {plan.Options.Catalog.Site.Currency}");
        var palette = new ScottPlot.Palettes.Category10();
        var maxX = 0.0;
        for (var i = 0; i < plan.Searches.Count; i++)
        {
            var points = plan.Searches[i].Evaluated.Where(c => double.IsFinite(c.Measured)).OrderBy(c => c.Servers).ToList();
            if (points.Count == 0)
            {
                continue;
            }

            var xs = points.Select(c => slo.AxisValue(c.Measured)).ToArray();
            maxX = Math.Max(maxX, xs.Max());
            var line = plot.Add.Scatter(xs, [.. points.Select(c => c.YearlyCost / 1000)], palette.GetColor(i));
            line.LineWidth = 2;
            line.MarkerSize = 6;
            line.LegendText = plan.Searches[i].Type.Name;
        }

        var limit = plot.Add.VerticalLine(slo.AxisValue(slo.Limit));
        limit.LinePattern = LinePattern.Dashed;
        limit.LegendText = "SLO limit";
        plot.ShowLegend(Alignment.UpperRight);
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp.png");
        plot.SavePng(temp, 900, 600);
        File.Move(temp, full, overwrite: true);
    }

    private static string Money(double value, string currency) => string.Create(C, $"{value:N0} {currency}");

    private static double R(double value, int digits = 0) => Math.Round(value, digits);

    private static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
