using System.Globalization;
using System.Text.Json.Nodes;
using Aicc.Scheduling.Validation;
using Aicc.Server.Api;

namespace Aicc.Server.Execution.Slurm;

/// <summary>
/// Turns an admitted attempt into a slurmrestd submission that runs exactly Aicc's placement: one
/// (heterogeneous) component per node and pod set, pinned with <c>nodelist</c>, with the task count
/// and whole GPUs per task of that component. Nothing a tenant wrote becomes a Slurm option or a
/// line of the batch script: the script is fixed text plus numbers, the program and its arguments
/// travel as the script's <c>argv</c>, and every per-pod value travels in the environment.
/// </summary>
public static class SlurmSubmission
{
    /// <summary>The variable whose value is the per-task shim (so the script never quotes it).</summary>
    public const string ShimVariable = "AICC_SLURM_SHIM";

    /// <summary>
    /// Runs in every task under srun: picks the task's pod from its component's lists by
    /// SLURM_LOCALID, exports the torchrun variables, sends output to the pod's log files, runs the
    /// argument vector as given through "$@" and records its exit status beside the logs. The TERM
    /// trap only defers the shell's exit until the program has ended (as in the local executor).
    /// </summary>
    internal const string Shim =
        "trap : TERM INT\n" +
        "set --; i=0; while [ \"$i\" -lt \"$AICC_ARGC\" ]; do eval \"set -- \\\"\\$@\\\" \\\"\\$AICC_ARGV_$i\\\"; unset AICC_ARGV_$i\"; i=$((i+1)); done; unset AICC_ARGC\n" +
        "g=$AICC_GROUP\n" +
        "eval \"ranks=\\$AICC_G${g}_RANKS indices=\\$AICC_G${g}_INDICES AICC_POD_SET=\\$AICC_G${g}_POD_SET AICC_NODE=\\$AICC_G${g}_NODE LOCAL_WORLD_SIZE=\\$AICC_G${g}_LOCAL_SIZE base=\\$AICC_G${g}_LOCAL_BASE NODE_RANK=\\$AICC_G${g}_NODE_RANK AICC_ACCELERATOR_MILLI=\\$AICC_G${g}_MILLI\"\n" +
        "pick() { i=0; IFS=,; for v in $1; do if [ \"$i\" -eq \"$SLURM_LOCALID\" ]; then unset IFS; echo \"$v\"; return; fi; i=$((i+1)); done; unset IFS; }\n" +
        "RANK=$(pick \"$ranks\"); AICC_POD_INDEX=$(pick \"$indices\"); LOCAL_RANK=$((base + SLURM_LOCALID))\n" +
        "export RANK LOCAL_RANK LOCAL_WORLD_SIZE NODE_RANK AICC_POD_SET AICC_POD_INDEX AICC_NODE AICC_ACCELERATOR_MILLI\n" +
        "unset g ranks indices base " + ShimVariable + "\n" +
        "pod=\"$AICC_ATTEMPT_DIR/$AICC_POD_SET-$AICC_POD_INDEX\"\n" +
        "\"$@\" >\"$pod.out\" 2>\"$pod.err\"; code=$?\n" +
        "printf '%s\\n' \"$code\" > \"$pod.exit.tmp\" && mv -f \"$pod.exit.tmp\" \"$pod.exit\"; exit $code\n";

    /// <summary>What the executor must know to build a submission beyond the plan itself.</summary>
    public sealed record Context(
        string Marker,
        string WorkDirectory,
        string AttemptDirectory,
        string Partition,
        IReadOnlyDictionary<string, string> BaseEnvironment,
        string MasterAddress,
        int MasterPort);

    /// <summary>One component: the pods of one pod set on one node, in rank order.</summary>
    public sealed record Component(string Node, string PodSet, IReadOnlyList<PlacementDto> Pods, int GpusPerTask, int MilliPerDevice, int CpusPerTask, long MemoryMiB, int LocalBase, int NodeRank);

    /// <summary>The marker in a job's comment: which installation, workload and attempt it runs.</summary>
    public static string Marker(string installation, string workloadId, int attempt) =>
        string.Create(CultureInfo.InvariantCulture, $"aicc:{installation}:{workloadId}:{attempt}");

    /// <summary>Reads a marker back; null for a job Aicc did not submit from this installation.</summary>
    public static (string WorkloadId, int Attempt)? ParseMarker(string installation, string comment)
    {
        var prefix = "aicc:" + installation + ":";
        if (!comment.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = comment[prefix.Length..];
        var colon = rest.LastIndexOf(':');
        return colon > 0 && int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt)
            ? (rest[..colon], attempt)
            : null;
    }

    /// <summary>
    /// Problems with a job spec that the Slurm executor cannot run faithfully, named all at once:
    /// fractional accelerators (Slurm hands out whole GRES devices), and control characters or an
    /// <c>#SBATCH</c> directive in any field (never passed as options anyway; refused so nobody relies on it).
    /// </summary>
    public static List<ValidationProblem> Check(JobSpec spec)
    {
        var problems = new List<ValidationProblem>();
        for (var i = 0; i < (spec.PodSets?.Count ?? 0); i++)
        {
            if (spec.PodSets![i].Accelerator is { Count: > 0, Milli: > 0 and < 1000 })
            {
                problems.Add(new($"podSets[{i}].accelerator.milli", "fractional accelerators need the local executor; this server runs jobs on Slurm, which allocates whole GPUs"));
            }
        }

        void Text(string field, string? value)
        {
            if (value is null)
            {
                return;
            }

            if (value.Any(c => c is '\r' or '\n' or '\0'))
            {
                problems.Add(new(field, "contains a line break or NUL, which this server's Slurm executor refuses"));
            }
            else if (value.Contains("#SBATCH", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add(new(field, "contains '#SBATCH'; Slurm options come from Aicc's placement, never from a job spec"));
            }
        }

        Text("name", spec.Name);
        for (var i = 0; i < (spec.Command?.Count ?? 0); i++)
        {
            Text($"command[{i}]", spec.Command![i]);
        }

        foreach (var (k, v) in spec.Env ?? [])
        {
            Text($"env.{k}", v);
        }

        return problems;
    }

    /// <summary>Groups the placement into components: by node in the order of each node's first rank, then by pod set.</summary>
    public static List<Component> Components(LaunchPlan plan)
    {
        var byRank = plan.Pods.OrderBy(p => p.Rank).ToList();
        var nodes = byRank.Select(p => p.Node).Distinct(StringComparer.Ordinal).ToList();
        var result = new List<Component>();
        foreach (var node in nodes)
        {
            var local = 0;
            foreach (var group in byRank.Where(p => p.Node == node).GroupBy(p => p.PodSet, StringComparer.Ordinal))
            {
                var pods = group.ToList();
                var set = plan.Spec.PodSets?.FirstOrDefault(s => (s.Name ?? "main") == group.Key) ?? plan.Spec.PodSets?.FirstOrDefault();
                var first = pods[0];
                result.Add(new Component(
                    node,
                    group.Key,
                    pods,
                    first.Devices.Count,
                    first.Devices.Count == 0 ? 0 : first.MilliPerDevice,
                    (int)Math.Max(1, (((set?.CpuMilli ?? 0) + 999) / 1000)),
                    Math.Max(256, set?.MemoryMiB ?? 0),
                    local,
                    nodes.IndexOf(node)));
                local += pods.Count;
            }
        }

        return result;
    }

    /// <summary>The slurmrestd v0.0.38 submission body for the attempt.</summary>
    public static JsonObject Build(LaunchPlan plan, Context context)
    {
        var inv = CultureInfo.InvariantCulture;
        var components = Components(plan);
        var env = new JsonObject();
        foreach (var (k, v) in context.BaseEnvironment)
        {
            env[k] = v;
        }

        foreach (var (k, v) in plan.Spec.Env ?? [])
        {
            env[k] = v;
        }

        env["PYTHONUNBUFFERED"] = "1";
        env["AICC_JOB_ID"] = plan.WorkloadId;
        env["AICC_JOB_NAME"] = plan.Name;
        env["AICC_TENANT"] = plan.TenantId;
        env["AICC_QUEUE"] = plan.Queue;
        env["AICC_ATTEMPT"] = plan.Attempt.ToString(inv);
        env["AICC_WORK_DIR"] = context.WorkDirectory;
        env["AICC_ATTEMPT_DIR"] = context.AttemptDirectory;
        env["AICC_MARKER"] = context.Marker;
        env["WORLD_SIZE"] = plan.Pods.Count.ToString(inv);
        env["MASTER_ADDR"] = context.MasterAddress;
        env["MASTER_PORT"] = context.MasterPort.ToString(inv);
        env[ShimVariable] = Shim;

        // The program and its arguments travel as variables, one per argument, and the shim rebuilds
        // "$@" from them: slurmrestd 22.05 corrupts its heap on a job's "argv" (measured: it aborts).
        env["AICC_ARGC"] = plan.Spec.Command!.Count.ToString(inv);
        for (var i = 0; i < plan.Spec.Command.Count; i++)
        {
            env["AICC_ARGV_" + i.ToString(inv)] = plan.Spec.Command[i];
        }

        for (var g = 0; g < components.Count; g++)
        {
            var c = components[g];
            var prefix = "AICC_G" + g.ToString(inv) + "_";
            env[prefix + "RANKS"] = string.Join(',', c.Pods.Select(p => p.Rank.ToString(inv)));
            env[prefix + "INDICES"] = string.Join(',', c.Pods.Select(p => p.Index.ToString(inv)));
            env[prefix + "POD_SET"] = c.PodSet;
            env[prefix + "NODE"] = c.Node;
            env[prefix + "LOCAL_SIZE"] = plan.Pods.Count(p => p.Node == c.Node).ToString(inv);
            env[prefix + "LOCAL_BASE"] = c.LocalBase.ToString(inv);
            env[prefix + "NODE_RANK"] = c.NodeRank.ToString(inv);
            env[prefix + "MILLI"] = c.MilliPerDevice.ToString(inv);
        }

        // Aicc enforces the exact limit itself; Slurm's (whole minutes) is a backstop a minute later.
        var minutes = (int)Math.Min(int.MaxValue, ((plan.Spec.EffectiveTimeLimitSeconds + 59L) / 60) + 1);
        JsonObject Properties(Component c, bool leader)
        {
            var job = new JsonObject
            {
                ["name"] = $"aicc-{plan.WorkloadId}-{plan.Attempt.ToString(inv)}",
                ["comment"] = context.Marker,
                ["nodes"] = "1",
                ["nodelist"] = c.Node,
                ["tasks"] = c.Pods.Count,
                ["cpus_per_task"] = c.CpusPerTask,
                ["memory_per_node"] = c.MemoryMiB * c.Pods.Count,
                ["time_limit"] = minutes,
                ["current_working_directory"] = context.WorkDirectory,
                ["environment"] = leader ? env : new JsonObject { ["AICC_MARKER"] = context.Marker },
                ["requeue"] = false,
            };
            if (leader)
            {
                job["standard_output"] = Path.Combine(context.AttemptDirectory, "slurm-batch.out");
                job["standard_error"] = Path.Combine(context.AttemptDirectory, "slurm-batch.err");
            }

            if (c.GpusPerTask > 0)
            {
                job["gpus_per_task"] = c.GpusPerTask.ToString(inv);
            }

            if (context.Partition.Length > 0)
            {
                job["partition"] = context.Partition;
            }

            return job;
        }

        var submission = new JsonObject { ["script"] = Script(components) };
        if (components.Count == 1)
        {
            submission["job"] = Properties(components[0], leader: true);
        }
        else
        {
            submission["jobs"] = new JsonArray([.. components.Select((c, i) => (JsonNode)Properties(c, leader: i == 0))]);
        }

        return submission;
    }

    /// <summary>The batch script: fixed text and numbers only; one srun step across every component.</summary>
    internal static string Script(IReadOnlyList<Component> components)
    {
        var inv = CultureInfo.InvariantCulture;
        var steps = components.Select((c, g) =>
        {
            var group = components.Count > 1 ? $"--het-group={g.ToString(inv)} " : "";
            var gpus = c.GpusPerTask > 0 ? $" --gpus-per-task={c.GpusPerTask.ToString(inv)}" : "";
            return $"{group}--kill-on-bad-exit=1 -N1 -n{c.Pods.Count.ToString(inv)} -c{c.CpusPerTask.ToString(inv)}{gpus} --export=ALL,AICC_GROUP={g.ToString(inv)} /bin/sh -c \"${ShimVariable}\" aicc-pod";
        });
        return "#!/bin/sh\n# Generated by Aicc (docs/slurm.md): one step over every component; the shim runs the program.\n" +
            "srun " + string.Join(" : ", steps) + "\n";
    }
}
