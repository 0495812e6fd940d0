using System.CommandLine;
using System.Text.Json.Nodes;
using Aicc.Cli;
using Aicc.Server.Api;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Aicc.Commands;

/// <summary><c>aicc job submit|list|get|logs|cancel</c>.</summary>
internal static class JobCommand
{
    public static Command Create()
    {
        var job = new Command("job", "Submit and follow workloads.");
        job.Subcommands.Add(Submit());
        job.Subcommands.Add(List());
        job.Subcommands.Add(Get());
        job.Subcommands.Add(Logs());
        job.Subcommands.Add(Cancel());
        return job;
    }

    /// <summary>Reads a job YAML file; every problem names the file and line.</summary>
    internal static JobSpec ReadJobFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException(ExitCodes.Usage, $"{path}: no such file");
        }

        return ParseJobFile(path, File.ReadAllText(path));
    }

    /// <summary>The job YAML (or JSON) of <c>aicc job submit -f</c>; a problem names the file, line and column.</summary>
    internal static JobSpec ParseJobFile(string path, string text)
    {
        var deserializer = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build();
        try
        {
            return deserializer.Deserialize<JobSpec>(text) ?? throw new CliException(ExitCodes.Usage, $"{path}: the file is empty");
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            var what = inner.Contains("not found on type", StringComparison.Ordinal) ? "unknown field" : inner;
            throw new CliException(ExitCodes.Usage, $"{path}:{e.Start.Line}:{e.Start.Column}: {what}");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // YamlDotNet 16.3 throws these instead of YamlException on some malformed text (a tag
            // that is not a URI); found by F1 (docs/reliability.md).
            throw new CliException(ExitCodes.Usage, $"{path}: not valid YAML: {e.Message}");
        }
    }

    private static Command Submit()
    {
        var file = new Option<string?>("--file", "-f") { Description = "A job YAML file (see examples/)." };
        var queue = new Option<string?>("--queue", "-q") { Description = "Queue (default: default)." };
        var name = new Option<string?>("--name") { Description = "A name for the job." };
        var pods = new Option<int>("--pods") { Description = "Pods (replicas) to run as one gang.", DefaultValueFactory = _ => 1 };
        var cpu = new Option<long>("--cpu-milli") { Description = "Millicores per pod.", DefaultValueFactory = _ => 1000 };
        var memory = new Option<long>("--memory-mib") { Description = "MiB of memory per pod.", DefaultValueFactory = _ => 1024 };
        var gpus = new Option<int>("--gpus") { Description = "Whole accelerators per pod." };
        var gpuMilli = new Option<int>("--gpu-milli") { Description = "A fraction of one accelerator per pod, in thousandths (1..999)." };
        var model = new Option<string?>("--model") { Description = "Allowed accelerator models, e.g. A100|H100." };
        var timeLimit = new Option<int>("--time-limit") { Description = "Seconds before the attempt is stopped (0: the maximum)." };
        var retries = new Option<int>("--retries") { Description = "Times a failed attempt is run again." };
        var priority = new Option<int>("--priority") { Description = "Higher runs first and may preempt lower." };
        var env = new Option<string[]>("--env", "-e") { Description = "KEY=VALUE for the program's environment (repeatable).", AllowMultipleArgumentsPerToken = false };
        var key = new Option<string?>("--idempotency-key") { Description = "Makes a retried submission safe: the same key returns the same job." };
        var command = new Argument<string[]>("command") { Description = "The program and its arguments, after --.", Arity = ArgumentArity.ZeroOrMore };
        var submit = new Command("submit", "Submit a job from a YAML file or from flags: aicc job submit --gpus 1 -- python3 train.py")
        {
            file, queue, name, pods, cpu, memory, gpus, gpuMilli, model, timeLimit, retries, priority, env, key, command,
        };
        submit.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            JobSpec spec;
            var argv = parse.GetValue(command) ?? [];
            if (parse.GetValue(file) is { } path)
            {
                spec = ReadJobFile(path);
                if (argv.Length > 0)
                {
                    spec.Command = [.. argv];
                }
            }
            else
            {
                if (argv.Length == 0)
                {
                    throw new CliException(ExitCodes.Usage, "give -f job.yaml or a command after --, e.g. aicc job submit --gpus 1 -- python3 train.py");
                }

                spec = new JobSpec
                {
                    Command = [.. argv],
                    PodSets =
                    [
                        new PodSetDto
                        {
                            Name = "main",
                            Count = parse.GetValue(pods),
                            CpuMilli = parse.GetValue(cpu),
                            MemoryMiB = parse.GetValue(memory),
                            Accelerator = parse.GetValue(gpus) == 0 && parse.GetValue(gpuMilli) == 0 ? null : new AcceleratorDto
                            {
                                Count = parse.GetValue(gpus),
                                Milli = parse.GetValue(gpuMilli),
                                Models = [.. Aicc.Scheduling.Model.AcceleratorRequest.ParseModels(parse.GetValue(model))],
                            },
                        },
                    ],
                };
            }

            spec.Queue = parse.GetValue(queue) ?? spec.Queue ?? "default";
            spec.Name = parse.GetValue(name) ?? spec.Name;
            if (parse.GetValue(timeLimit) != 0)
            {
                spec.TimeLimitSeconds = parse.GetValue(timeLimit);
            }

            if (parse.GetValue(retries) != 0)
            {
                spec.MaxRetries = parse.GetValue(retries);
            }

            if (parse.GetValue(priority) != 0)
            {
                spec.Priority = parse.GetValue(priority);
            }

            foreach (var pair in parse.GetValue(env) ?? [])
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new CliException(ExitCodes.Usage, $"--env {pair}: write KEY=VALUE");
                }

                spec.Env ??= [];
                spec.Env[pair[..eq]] = pair[(eq + 1)..];
            }

            using var client = ApiClient.FromLogin();
            var headers = new Dictionary<string, string> { ["Idempotency-Key"] = parse.GetValue(key) ?? Guid.NewGuid().ToString() };
            var created = await client.SendAsync(HttpMethod.Post, "api/v1/workloads", spec, headers, ct);
            CliOutput.Write(parse, created, () => $"Submitted {CliOutput.Text(created["id"])} to queue {CliOutput.Text(created["queue"])}; follow it with `aicc job logs -f {CliOutput.Text(created["id"])}`.");

            return ExitCodes.Ok;
        }));
        return submit;
    }

    private static Command List()
    {
        var state = new Option<string?>("--state") { Description = "Pending, Admitted, Running, Succeeded, Failed or Cancelled." };
        var queue = new Option<string?>("--queue", "-q") { Description = "Only this queue." };
        var limit = new Option<int>("--limit") { Description = "At most this many (1..500).", DefaultValueFactory = _ => 50 };
        var cursor = new Option<string?>("--cursor") { Description = "Continue after a previous page (its nextCursor)." };
        var list = new Command("list", "Jobs of your tenant, newest first.") { state, queue, limit, cursor };
        list.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            var query = $"api/v1/workloads?limit={parse.GetValue(limit)}";
            query += parse.GetValue(state) is { } s ? $"&state={Uri.EscapeDataString(s)}" : "";
            query += parse.GetValue(queue) is { } q ? $"&queue={Uri.EscapeDataString(q)}" : "";
            query += parse.GetValue(cursor) is { } c ? $"&cursor={Uri.EscapeDataString(c)}" : "";
            using var client = ApiClient.FromLogin();
            var page = await client.SendAsync(HttpMethod.Get, query, ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(page);
                return ExitCodes.Ok;
            }

            CliOutput.Table(
                ["ID", "NAME", "QUEUE", "STATE", "ATTEMPT", "EXIT", "SUBMITTED", "REASON"],
                page["items"]!.AsArray().Select(w => new[]
                {
                    CliOutput.Text(w!["id"]), CliOutput.Text(w["name"]), CliOutput.Text(w["queue"]), CliOutput.Text(w["state"]),
                    CliOutput.Text(w["attempt"]), CliOutput.Text(w["exitCode"]), CliOutput.Time(w["submittedAt"]), CliOutput.Text(w["reason"]),
                }));
            if (page["nextCursor"] is { } next)
            {
                Console.WriteLine($"more: aicc job list --cursor {CliOutput.Text(next)}");
            }

            return ExitCodes.Ok;
        }));
        return list;
    }

    private static Command Get()
    {
        var id = new Argument<string>("id") { Description = "The job id (wl-…)." };
        var get = new Command("get", "A job's state, placement, attempts and why it waits.") { id };
        get.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var w = await client.SendAsync(HttpMethod.Get, $"api/v1/workloads/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(w);
                return ExitCodes.Ok;
            }

            CliOutput.Table(["FIELD", "VALUE"], new[]
            {
                new[] { "id", CliOutput.Text(w["id"]) },
                ["name", CliOutput.Text(w["name"])],
                ["queue", CliOutput.Text(w["queue"])],
                ["state", CliOutput.Text(w["state"])],
                ["reason", CliOutput.Text(w["reason"])],
                ["waiting", w["waiting"] is { } wait ? $"#{CliOutput.Text(wait["queuePosition"])} in queue: {CliOutput.Text(wait["reason"])}" : ""],
                ["attempt", $"{CliOutput.Text(w["attempt"])} (failures {CliOutput.Text(w["failures"])} of max retries {CliOutput.Text(w["maxRetries"])})"],
                ["exit code", CliOutput.Text(w["exitCode"])],
                ["submitted", CliOutput.Text(w["submittedAt"])],
                ["finished", CliOutput.Text(w["finishedAt"])],
            }.Concat(w["placement"]!.AsArray().Select(p => new[] { $"rank {CliOutput.Text(p!["rank"])}", $"{CliOutput.Text(p["podSet"])}-{CliOutput.Text(p["index"])} on {CliOutput.Text(p["node"])} devices [{string.Join(",", p["devices"]!.AsArray().Select(CliOutput.Text))}] × {CliOutput.Text(p["milliPerDevice"])}‰" })));
            return ExitCodes.Ok;
        }));
        return get;
    }

    private static Command Logs()
    {
        var id = new Argument<string>("id") { Description = "The job id." };
        var follow = new Option<bool>("--follow", "-f") { Description = "Stream until the job ends; exit 0 if it succeeded, 1 if it failed, 7 if cancelled." };
        var pod = new Option<string?>("--pod") { Description = "Only this pod, e.g. worker-1." };
        var attempt = new Option<int?>("--attempt") { Description = "An earlier attempt." };
        var logs = new Command("logs", "Standard output and error of a job's pods.") { id, follow, pod, attempt };
        logs.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            var jobId = Uri.EscapeDataString(parse.GetValue(id)!);
            var query = $"api/v1/workloads/{jobId}/logs?follow={(parse.GetValue(follow) ? "true" : "false")}";
            query += parse.GetValue(pod) is { } p ? $"&pod={Uri.EscapeDataString(p)}" : "";
            query += parse.GetValue(attempt) is { } a ? $"&attempt={a}" : "";
            using var client = ApiClient.FromLogin();
            await using (var stream = await client.OpenStreamAsync(query, ct))
            {
                await using var stdout = Console.OpenStandardOutput();
                await stream.CopyToAsync(stdout, ct);
            }

            if (!parse.GetValue(follow))
            {
                return ExitCodes.Ok;
            }

            var w = await client.SendAsync(HttpMethod.Get, $"api/v1/workloads/{jobId}", ct: ct);
            return CliOutput.Text(w["state"]) switch
            {
                "Succeeded" => ExitCodes.Ok,
                "Cancelled" => ExitCodes.JobCancelled,
                _ => ExitCodes.JobFailed,
            };
        }));
        return logs;
    }

    private static Command Cancel()
    {
        var id = new Argument<string>("id") { Description = "The job id." };
        var cancel = new Command("cancel", "Cancel a job: at once if pending; SIGTERM, then SIGKILL after the grace period, if running.") { id };
        cancel.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var w = await client.SendAsync(HttpMethod.Post, $"api/v1/workloads/{Uri.EscapeDataString(parse.GetValue(id)!)}/cancel", "{}", ct: ct);
            CliOutput.Write(parse, w, () => $"{CliOutput.Text(w["id"])}: {CliOutput.Text(w["state"])} ({CliOutput.Text(w["reason"])})");

            return ExitCodes.Ok;
        }));
        return cancel;
    }
}
