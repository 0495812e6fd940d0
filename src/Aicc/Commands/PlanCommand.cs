using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Aicc.Simulation.Planning;
using Aicc.Simulation.Replay;

namespace Aicc.Commands;

/// <summary>
/// <c>aicc plan</c>: sizes a center for a demand file (traces to replay, inference services) against a
/// catalog of server types and an SLO, and writes plan.md, plan.json and cost-vs-slo.png (docs/planner.md).
/// </summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var demand = new Option<FileInfo>("--demand") { Description = "Demand file (YAML or JSON): training traces, inference services, datasets, prices.", Required = true };
        var catalog = new Option<FileInfo?>("--catalog") { Description = "Catalog file overriding the embedded default: server types and site parameters." };
        var slo = new Option<string?>("--slo") { Description = $"SLO of the training replay ({Slo.Forms}); default: the demand's slo, else p95-queue<=1h." };
        var policy = new Option<string?>("--policy") { Description = $"Replay policy: {ReplayPolicy.Names}; default: the demand's policy, else fifo." };
        var maxServers = new Option<int?>("--max-servers") { Description = "Largest count of one server type the search tries (default: the demand's search.max_servers, else 2048)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory for plan.md, plan.json and cost-vs-slo.png.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print plan.json to standard output instead of the summary (as -o json does)." };
        var command = new Command("plan", "Plan a center: the cheapest server mix that meets an SLO in replay, with racks, power, network, storage, cost and payback.")
        {
            demand, catalog, slo, policy, maxServers, output, json,
        };
        command.SetAction(parse => Run(
            parse.GetValue(demand)!.FullName,
            parse.GetValue(catalog)?.FullName,
            parse.GetValue(slo),
            parse.GetValue(policy),
            parse.GetValue(maxServers),
            parse.GetValue(output)!.FullName,
            parse.GetValue(json) || Aicc.Cli.CliOutput.Json(parse)));
        return command;
    }

    internal static int Run(string demandPath, string? catalogPath, string? sloText, string? policyName, int? maxServers, string outDir, bool json)
    {
        var problems = new List<string>();
        if (maxServers is < 1 or > 1_000_000)
        {
            problems.Add($"--max-servers {maxServers}: must be 1..1000000");
        }

        if (policyName is not null && ReplayPolicy.Find(policyName) is null)
        {
            problems.Add($"--policy {policyName}: unknown (choose {ReplayPolicy.Names})");
        }

        Slo? slo = null;
        if (sloText is not null && (slo = Slo.Parse(sloText, out var why)) is null)
        {
            problems.Add($"--slo: {why}");
        }

        PlanCatalog? cat = null;
        DemandSpec? spec = null;
        try
        {
            cat = PlanCatalog.Load(catalogPath);
        }
        catch (PlanInputException ex)
        {
            problems.AddRange(ex.Problems.Select(p => p.ToString()));
        }

        if (cat is not null)
        {
            try
            {
                spec = DemandSpec.Load(demandPath, cat);
            }
            catch (PlanInputException ex)
            {
                problems.AddRange(ex.Problems.Select(p => p.ToString()));
            }
        }

        if (problems.Count > 0 || cat is null || spec is null)
        {
            foreach (var p in problems)
            {
                Console.Error.WriteLine($"error: {p}");
            }

            return ExitCodes.Usage;
        }

        slo ??= Slo.Parse(spec.Slo ?? "p95-queue<=1h", out _)!;
        var replayPolicy = ReplayPolicy.Find(policyName ?? spec.Policy ?? "fifo")!;
        PlanResult plan;
        using (var progress = ProgressBar.ForTerminal($"plan {spec.Name}"))
        {
            try
            {
                plan = Planner.Run(new PlanOptions
                {
                    Demand = spec,
                    Catalog = cat,
                    Slo = slo,
                    Policy = replayPolicy,
                    MaxServers = maxServers,
                    Progress = progress is null ? null : progress.Report,
                });
            }
            catch (PlanInputException ex)
            {
                progress?.Dispose();
                foreach (var p in ex.Problems)
                {
                    Console.Error.WriteLine($"error: {p}");
                }

                return ExitCodes.Usage;
            }
        }

        PlanReport.Write(plan, outDir);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(PlanReport.ToJson(plan), JsonOutput.Options));
        }
        else
        {
            PrintSummary(plan, outDir);
        }

        if (!plan.SloMet)
        {
            var t = plan.Training;
            Console.Error.WriteLine(t is null
                ? $"SLO {slo.Text} cannot be met: no server type can run the training pool"
                : string.Create(CultureInfo.InvariantCulture, $"SLO {slo.Text} cannot be met within the search bounds (at most {maxServers ?? spec.MaxServers} servers per type); closest: {t.Servers} × {t.Type.Name} at {slo.Format(t.Measured)}"));
            return ExitCodes.SloNotMet;
        }

        return ExitCodes.Ok;
    }

    private static void PrintSummary(PlanResult plan, string outDir)
    {
        var c = CultureInfo.InvariantCulture;
        var b = plan.Buildout;
        var cur = plan.Options.Catalog.Site.Currency;
        var slo = plan.Options.Slo;
        if (plan.Training is { } t)
        {
            Console.WriteLine(string.Create(c, $"training: {t.Servers} × {t.Type.Name} ({t.Gpus} GPUs), {slo.Text}: measured {slo.Format(t.Measured)}{(plan.SloMet ? "" : " (NOT met)")}"));
        }

        foreach (var s in plan.Services)
        {
            Console.WriteLine(string.Create(c, $"inference {s.Service.Name}: {s.Servers} × {s.Type.Name} for {s.RequestsPerSecond:0.##} requests/s ({s.GpusNeeded:0.0} GPUs at {s.Service.TargetUtilisation:P0})"));
        }

        Console.WriteLine(string.Create(c, $"total: {b.ServerTotal} servers, {b.Gpus} GPUs, {b.Scu:0.#} SCU, {b.Racks} racks, IT {b.ItKw:N1} kW, facility {b.FacilityKw:N1} kW, {b.Network.Leaves} leaf + {b.Network.Spines} spine switches, {b.StorageUsableTb:N0} TB usable storage"));
        Console.WriteLine(string.Create(c, $"capex {b.Capex:N0} {cur}, opex {b.OpexPerYear:N0} {cur}/year, revenue {plan.RevenuePerYear:N0} {cur}/year, payback {(plan.PaybackYears is { } p ? p.ToString("0.0", c) + " years" : "never")}"));
        Console.WriteLine(string.Create(c, $"{plan.Replays} replays in {plan.WallSeconds:0.0} s; wrote {Path.Combine(outDir, PlanReport.MarkdownFile)}, {PlanReport.JsonFile}, {PlanReport.PlotFile}"));
    }
}
