using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aicc.Configuration;
using Aicc.Scheduling.Framework;
using Aicc.Simulation.Packing;

namespace Aicc.Commands;

/// <summary>
/// <c>aicc sim pack-compare</c>: every pod list × every policy under the FGD protocol, beside the
/// published figures; writes report.md, results.csv, results.json and one plot per pod list.
/// </summary>
internal static class SimPackCompareCommand
{
    public static Command Create()
    {
        var nodes = new Option<string>("--nodes") { Description = "Node list: openb CSV, or our JSON array (a .json file).", Required = true };
        var pods = new Option<string[]>("--pods") { Description = "One or more pod lists: openb CSV, or our JSON array (.json files).", Required = true, AllowMultipleArgumentsPerToken = true };
        var policies = new Option<string>("--policies") { Description = "Comma-separated policy names or files.", DefaultValueFactory = _ => "random,dotprod,gpuclustering,gpupacking,bestfit,fgd,aicc" };
        var expected = new Option<string?>("--expected") { Description = "Published results (fgd_summary.csv); curves are read from analysis_allo_discrete.csv beside it when present." };
        var output = new Option<string>("--out") { Description = "Directory for report.md, results.csv, results.json and plots.", Required = true };
        var seeds = new Option<string>("--seeds") { Description = "Seeds: 42-51, 42,43 or 42.", DefaultValueFactory = _ => "42-51" };
        var tune = new Option<double>("--tune") { Description = "Arrived GPU demand at the end, as a multiple of capacity.", DefaultValueFactory = _ => 1.3 };
        var check = new Option<bool>("--check") { Description = "Exit 1 when a fidelity or beat-FGD target is missed." };
        var tolerance = new Option<double>("--tolerance") { Description = "Allowed allocation gap to the published figure, points.", DefaultValueFactory = _ => 0.5 };
        var knownGap = new Option<string?>("--known-gap") { Description = "Extra allowance per policy for documented gaps, e.g. gpupacking=0.5,gpuclustering=0.5." };
        var command = new Command("pack-compare", "Compare policies on pod lists under the FGD protocol and against published results.")
        {
            nodes, pods, policies, expected, output, seeds, tune, check, tolerance, knownGap,
        };
        command.SetAction(parse =>
        {
            var problems = new List<string>();
            var seedList = PackingRunner.ParseSeeds(parse.GetValue(seeds)!, out var seedProblem);
            if (seedProblem is not null)
            {
                problems.Add(seedProblem);
            }

            var specs = new List<PolicySpec>();
            foreach (var name in parse.GetValue(policies)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var spec = PolicyFile.Load(name, out var policyProblems);
                problems.AddRange(policyProblems.Select(p => $"--policies: {p}"));
                if (spec is not null)
                {
                    specs.Add(spec);
                }
            }

            var gaps = ParseGaps(parse.GetValue(knownGap), problems);
            PublishedResults? published = null;
            if (parse.GetValue(expected) is { } expectedPath)
            {
                published = PublishedResults.Read(expectedPath, problems);
            }

            SimPackIo.RequireFiles(parse.GetValue(nodes)!, parse.GetValue(pods)!, problems);
            var inputs = problems.Count == 0 ? SimPackIo.Load(parse.GetValue(nodes)!, parse.GetValue(pods)!, problems) : null;
            if (problems.Count > 0 || inputs is null || seedList is null || specs.Count == 0)
            {
                return SimPackIo.Fail(problems.Count > 0 ? problems : ["--policies: give at least one policy"]);
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var options = new PackingOptions { Tune = parse.GetValue(tune) };
            var results = new List<PackingResult>();
            using (var bar = ProgressBar.ForTerminal($"{inputs.Count} pod lists × {specs.Count} policies"))
            {
                var total = inputs.Count * specs.Count;
                foreach (var input in inputs)
                {
                    foreach (var spec in specs)
                    {
                        var done = results.Count;
                        results.Add(PackingRunner.Run(input, spec, seedList, options, bar is null ? null : new Progress(p => bar.Report((done + p) / total))));
                    }
                }
            }

            var wall = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            var dir = parse.GetValue(output)!;
            Directory.CreateDirectory(dir);
            var plots = new List<string>();
            foreach (var group in results.GroupBy(r => r.Workload))
            {
                var file = $"{group.Key}.png";
                var curves = published is null ? null : group.Select(r => (r.Policy, Curve: published.Curve(r.Workload, r.Policy)))
                    .Where(c => c.Curve is not null).ToDictionary(c => c.Policy, c => c.Curve!);
                PackingPlot.Write(Path.Combine(dir, file), group.Key, [.. group], curves);
                plots.Add(file);
            }

            var report = new PackingReport(results, published, parse.GetValue(tolerance), gaps);
            SimPackIo.WriteAtomically(Path.Combine(dir, "results.json"), new JsonArray([.. results.Select(r => (JsonNode)r.ToJson())]).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            SimPackIo.WriteAtomically(Path.Combine(dir, "results.csv"), report.ToCsv());
            var markdown = report.ToMarkdown(seedList, wall, plots);
            SimPackIo.WriteAtomically(Path.Combine(dir, "report.md"), markdown);
            Console.WriteLine(markdown);
            var failures = report.Failures();
            return parse.GetValue(check) && failures.Count > 0 ? 1 : 0;
        });
        return command;
    }

    private static Dictionary<string, double> ParseGaps(string? text, List<string> problems)
    {
        var gaps = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var gap) || gap < 0)
            {
                problems.Add($"--known-gap: '{part}' is not policy=points");
                continue;
            }

            gaps[part[..eq]] = gap;
        }

        return gaps;
    }

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
