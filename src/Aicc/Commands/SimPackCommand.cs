using System.CommandLine;
using Aicc.Configuration;
using Aicc.Scheduling.Framework;
using Aicc.Simulation.Packing;
using Aicc.Simulation.Traces;

namespace Aicc.Commands;

/// <summary>
/// <c>aicc sim pack</c>: the FGD packing experiment (Weng et al., ATC'23) of one policy on one pod list,
/// seeds in parallel; prints one JSON object.
/// </summary>
internal static class SimPackCommand
{
    public static Command Create()
    {
        var nodes = new Option<string>("--nodes") { Description = "Node list: openb CSV (sn,cpu_milli,memory_mib,gpu,model), or a .json array of objects with those fields.", Required = true };
        var pods = new Option<string>("--pods") { Description = "Pod list: openb CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec]), or a .json array of objects with those fields.", Required = true };
        var policy = new Option<string>("--policy") { Description = "Built-in policy name or a policy file (JSON/YAML).", DefaultValueFactory = _ => "aicc" };
        var seeds = new Option<string>("--seeds") { Description = "Seeds: 42-51, 42,43 or 42.", DefaultValueFactory = _ => "42-51" };
        var tune = new Option<double>("--tune") { Description = "Arrivals stop when their GPU demand reaches this multiple of capacity.", DefaultValueFactory = _ => 1.3 };
        var json = new Option<string?>("--json") { Description = "Also write the JSON object to this file." };
        var plot = new Option<string?>("--plot") { Description = "Write the allocation-vs-load plot to this PNG file." };
        var replay = new Option<string?>("--replay") { Description = "Arrival order and node ranks from this file instead of the seed's draw (one seed; docs/simulator.md)." };
        var command = new Command("pack", "Pack a pod list onto a cluster with one policy (FGD's static packing experiment).")
        {
            nodes, pods, policy, seeds, tune, json, plot, replay,
        };
        command.SetAction(parse =>
        {
            var problems = new List<string>();
            var seedList = PackingRunner.ParseSeeds(parse.GetValue(seeds)!, out var seedProblem);
            if (seedProblem is not null)
            {
                problems.Add(seedProblem);
            }

            var tuneValue = parse.GetValue(tune);
            if (!double.IsFinite(tuneValue) || tuneValue <= 0 || tuneValue > 10)
            {
                problems.Add($"--tune {tuneValue}: must be a number in (0, 10]");
            }

            var spec = PolicyFile.Load(parse.GetValue(policy)!, out var policyProblems);
            problems.AddRange(policyProblems.Select(p => $"--policy: {p}"));
            SimPackIo.RequireFiles(parse.GetValue(nodes)!, [parse.GetValue(pods)!], problems);
            var replayPath = parse.GetValue(replay);
            if (replayPath is not null && seedList is { Count: not 1 })
            {
                problems.Add($"--replay: a replay file is one run; give one seed (--seeds 42), not {seedList.Count}");
            }

            if (replayPath is not null)
            {
                SimPackIo.RequireFile("--replay", replayPath, problems);
            }

            if (problems.Count > 0 || spec is null || seedList is null)
            {
                return SimPackIo.Fail(problems);
            }

            var input = SimPackIo.Load(parse.GetValue(nodes)!, [parse.GetValue(pods)!], problems);
            if (input is null)
            {
                return SimPackIo.Fail(problems);
            }

            var given = replayPath is null ? null : PackingReplay.Read(replayPath, input[0], problems);
            if (problems.Count > 0)
            {
                return SimPackIo.Fail(problems);
            }

            using var bar = ProgressBar.ForTerminal($"{input[0].Workload} × {spec.Name}");
            var result = PackingRunner.Run(input[0], spec, seedList, new PackingOptions { Tune = tuneValue, Replay = given }, bar);
            bar?.Dispose();
            var text = result.ToJsonText();
            if (parse.GetValue(plot) is { } plotPath)
            {
                PackingPlot.Write(plotPath, $"{result.Workload}", [result]);
            }

            if (parse.GetValue(json) is { } jsonPath)
            {
                SimPackIo.WriteAtomically(jsonPath, text + Environment.NewLine);
            }

            Console.WriteLine(text);
            return 0;
        });
        return command;
    }
}

/// <summary>Loading and writing shared by the pack verbs: every input problem reported once, nothing
/// half-written.</summary>
internal static class SimPackIo
{
    public static int Fail(IEnumerable<string> problems)
    {
        foreach (var problem in problems)
        {
            Console.Error.WriteLine($"error: {problem}");
        }

        return 2;
    }

    /// <summary>Names every input file that does not exist, so a mistyped path is reported together with
    /// the other argument problems instead of after them.</summary>
    public static void RequireFiles(string nodesPath, IEnumerable<string> podPaths, List<string> problems)
    {
        RequireFile("--nodes", nodesPath, problems);
        foreach (var path in podPaths)
        {
            RequireFile("--pods", path, problems);
        }
    }

    public static void RequireFile(string option, string path, List<string> problems)
    {
        if (!File.Exists(path))
        {
            problems.Add($"{option} {path}: file not found");
        }
    }

    public static IReadOnlyList<PackingInput>? Load(string nodesPath, IReadOnlyList<string> podPaths, List<string> problems)
    {
        IReadOnlyList<OpenbNode> nodes;
        try
        {
            nodes = OpenbTrace.ReadNodes(nodesPath);
        }
        catch (TraceFormatException ex)
        {
            problems.AddRange(ex.Problems);
            return null;
        }

        var models = PackingInput.ModelsOf(nodes);
        var inputs = new List<PackingInput>();
        foreach (var path in podPaths)
        {
            try
            {
                var pods = OpenbTrace.ReadPods(path, models);
                inputs.Add(PackingInput.Create(Path.GetFileNameWithoutExtension(path), nodes, pods));
            }
            catch (TraceFormatException ex)
            {
                problems.AddRange(ex.Problems);
            }
        }

        return problems.Count == 0 ? inputs : null;
    }

    /// <summary>Writes to a temporary file beside the target, then renames: a reader never sees half a file.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, full, overwrite: true);
    }
}
