using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Aicc.Cli;

namespace Aicc.Commands;

/// <summary><c>aicc queue list</c>.</summary>
internal static class QueueCommand
{
    public static Command Create()
    {
        var tenant = new Option<string?>("--tenant") { Description = "A tenant (platform admin; * for all)." };
        var list = new Command("list", "Queues, their quotas and how many jobs wait and run.") { tenant };
        list.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var queues = await client.SendAsync(HttpMethod.Get, "api/v1/queues" + (parse.GetValue(tenant) is { } t ? $"?tenant={Uri.EscapeDataString(t)}" : ""), ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(queues);
                return ExitCodes.Ok;
            }

            CliOutput.Table(["TENANT", "QUEUE", "COHORT", "PENDING", "RUNNING", "QUOTAS"], queues.AsArray().Select(q => new[]
            {
                CliOutput.Text(q!["tenant"]), CliOutput.Text(q["name"]), CliOutput.Text(q["cohort"]), CliOutput.Text(q["pending"]), CliOutput.Text(q["running"]),
                string.Join(" ", q["quotas"]!.AsObject().Select(kv => $"{kv.Key}={CliOutput.Text(kv.Value!["nominal"])}")),
            }));
            return ExitCodes.Ok;
        }));
        var queue = new Command("queue", "Queues of your tenant.");
        queue.Subcommands.Add(list);
        return queue;
    }
}

/// <summary><c>aicc node list|cordon|uncordon|drain</c>.</summary>
internal static class NodeCommand
{
    public static Command Create()
    {
        var node = new Command("node", "The node inventory.");
        var list = new Command("list", "Nodes, devices and allocation.");
        list.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var nodes = await client.SendAsync(HttpMethod.Get, "api/v1/nodes", ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(nodes);
                return ExitCodes.Ok;
            }

            CliOutput.Table(["NODE", "CPU", "MEMORY MiB", "DEVICES", "ALLOCATED", "STATUS", "SOURCE"], nodes.AsArray().Select(n => new[]
            {
                CliOutput.Text(n!["name"]),
                (n["cpuMilli"]!.GetValue<long>() / 1000.0).ToString("0.#", CultureInfo.InvariantCulture),
                CliOutput.Text(n["memoryMiB"]),
                string.Join(" ", n["devices"]!.AsArray().GroupBy(d => CliOutput.Text(d!["model"])).Select(g => $"{g.Count()}×{g.Key}")),
                (n["allocatedAcceleratorMilli"]!.GetValue<long>() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture),
                n["draining"]!.GetValue<bool>() ? "draining" : n["cordoned"]!.GetValue<bool>() ? "cordoned" : "ready",
                CliOutput.Text(n["source"]),
            }));
            return ExitCodes.Ok;
        }));
        node.Subcommands.Add(list);
        node.Subcommands.Add(Action("cordon", "No new placements on the node (platform admin)."));
        node.Subcommands.Add(Action("uncordon", "Accept placements again."));
        node.Subcommands.Add(Action("drain", "Cordon and send running jobs back to their queues."));
        return node;
    }

    private static Command Action(string verb, string description)
    {
        var name = new Argument<string>("name") { Description = "The node." };
        var command = new Command(verb, description) { name };
        command.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var n = await client.SendAsync(HttpMethod.Post, $"api/v1/nodes/{Uri.EscapeDataString(parse.GetValue(name)!)}/{verb}", "{}", ct: ct);
            CliOutput.Write(parse, n, () => $"{CliOutput.Text(n["name"])}: cordoned={CliOutput.Text(n["cordoned"])} draining={CliOutput.Text(n["draining"])}");

            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary><c>aicc tenant create</c>.</summary>
internal static class TenantCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Tenant id: a-z, 0-9, '-', '_', '.'." };
        var display = new Option<string?>("--display-name") { Description = "A human-readable name." };
        var create = new Command("create", "Create a tenant with a default queue (platform admin).") { name, display };
        create.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var t = await client.SendAsync(HttpMethod.Post, "api/v1/tenants", new JsonObject { ["name"] = parse.GetValue(name), ["displayName"] = parse.GetValue(display) }.ToJsonString(), ct: ct);
            CliOutput.Write(parse, t, () => $"Created tenant {CliOutput.Text(t["name"])} with queue 'default'. Add a user: POST /api/v1/tenants/{CliOutput.Text(t["name"])}/users, then `aicc token create --tenant {CliOutput.Text(t["name"])} --user NAME`.");

            return ExitCodes.Ok;
        }));
        var tenant = new Command("tenant", "Tenants (organisations).");
        tenant.Subcommands.Add(create);
        return tenant;
    }
}

/// <summary><c>aicc quota set --queue Q accelerator/A100=8 cpu=64</c>: whole units on the command line, milli-units on the wire.</summary>
internal static class QuotaCommand
{
    public static Command Create()
    {
        var queue = new Option<string>("--queue", "-q") { Description = "The queue.", Required = true };
        var tenant = new Option<string?>("--tenant") { Description = "The queue's tenant (default: yours)." };
        var values = new Argument<string[]>("quota") { Description = "RESOURCE=NOMINAL[:BORROWING[:LENDING]], e.g. accelerator/A100=8 cpu=64 memory=262144.", Arity = ArgumentArity.OneOrMore };
        var set = new Command("set", "Set a queue's nominal quotas (platform admin). Devices, cores and SCU are whole units; memory is MiB.") { queue, tenant, values };
        set.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            var quotas = new JsonObject();
            foreach (var item in parse.GetValue(values)!)
            {
                var (key, quota) = Parse(item);
                quotas[key] = quota;
            }

            using var client = ApiClient.FromLogin();
            var path = $"api/v1/queues/{Uri.EscapeDataString(parse.GetValue(queue)!)}/quotas" + (parse.GetValue(tenant) is { } t ? $"?tenant={Uri.EscapeDataString(t)}" : "");
            var q = await client.SendAsync(HttpMethod.Put, path, new JsonObject { ["quotas"] = quotas }.ToJsonString(), ct: ct);
            CliOutput.Write(parse, q, () => $"Quotas of {CliOutput.Text(q["tenant"])}/{CliOutput.Text(q["name"])}: {q["quotas"]!.ToJsonString()}");

            return ExitCodes.Ok;
        }));
        var quota = new Command("quota", "Queue quotas.");
        quota.Subcommands.Add(set);
        return quota;
    }

    internal static (string Key, JsonObject Quota) Parse(string item)
    {
        var eq = item.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new CliException(ExitCodes.Usage, $"'{item}': write RESOURCE=NOMINAL[:BORROWING[:LENDING]]");
        }

        var key = item[..eq];
        var scale = key == "memory" ? 1L : 1000L;
        var parts = item[(eq + 1)..].Split(':');
        var numbers = new List<long?>();
        foreach (var part in parts)
        {
            if (part.Length == 0)
            {
                numbers.Add(null);
            }
            else if (decimal.TryParse(part, NumberStyles.Number, CultureInfo.InvariantCulture, out var value) && value >= 0 && value < 1e12m)
            {
                numbers.Add((long)(value * scale));
            }
            else
            {
                throw new CliException(ExitCodes.Usage, $"'{item}': '{part}' is not a non-negative number");
            }
        }

        if (numbers.Count > 3 || numbers[0] is null)
        {
            throw new CliException(ExitCodes.Usage, $"'{item}': write RESOURCE=NOMINAL[:BORROWING[:LENDING]]");
        }

        var quota = new JsonObject { ["nominal"] = numbers[0] };
        if (numbers.Count > 1 && numbers[1] is { } b)
        {
            quota["borrowingLimit"] = b;
        }

        if (numbers.Count > 2 && numbers[2] is { } l)
        {
            quota["lendingLimit"] = l;
        }

        return (key, quota);
    }
}

/// <summary><c>aicc token create|list|revoke</c>.</summary>
internal static class TokenCommand
{
    public static Command Create()
    {
        var tenant = new Option<string?>("--tenant") { Description = "Tenant of the user (default: yours)." };
        var user = new Option<string?>("--user") { Description = "The user the token acts as (default: you)." };
        var role = new Option<string?>("--role") { Description = "platform-admin, tenant-admin or member (default: the user's role)." };
        var days = new Option<int>("--days") { Description = "Days until it expires.", DefaultValueFactory = _ => 90 };
        var description = new Option<string?>("--description") { Description = "What the token is for." };
        var create = new Command("create", "Issue a token; its secret is printed once.") { tenant, user, role, days, description };
        create.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var body = new JsonObject
            {
                ["tenant"] = parse.GetValue(tenant),
                ["user"] = parse.GetValue(user),
                ["role"] = parse.GetValue(role),
                ["expiresInDays"] = parse.GetValue(days),
                ["description"] = parse.GetValue(description),
            };
            var t = await client.SendAsync(HttpMethod.Post, "api/v1/tokens", body.ToJsonString(), ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(t);
            }
            else
            {
                Console.WriteLine($"Token {CliOutput.Text(t["id"])} for {CliOutput.Text(t["user"])}@{CliOutput.Text(t["tenant"])} ({CliOutput.Text(t["role"])}), expires {CliOutput.Text(t["expiresAt"])}. Shown once:");
                Console.WriteLine(CliOutput.Text(t["token"]));
            }

            return ExitCodes.Ok;
        }));
        var id = new Argument<string>("id") { Description = "The token id (tok-…), not the secret." };
        var revoke = new Command("revoke", "Revoke a token; it stops working at once.") { id };
        revoke.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var t = await client.SendAsync(HttpMethod.Delete, $"api/v1/tokens/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct: ct);
            Console.WriteLine($"Revoked {CliOutput.Text(t["id"])} at {CliOutput.Text(t["revokedAt"])}.");
            return ExitCodes.Ok;
        }));
        var list = new Command("list", "Tokens you can see (never their secrets).");
        list.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            using var client = ApiClient.FromLogin();
            var tokens = await client.SendAsync(HttpMethod.Get, "api/v1/tokens", ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(tokens);
                return ExitCodes.Ok;
            }

            CliOutput.Table(["ID", "USER", "ROLE", "EXPIRES", "REVOKED", "DESCRIPTION"], tokens.AsArray().Select(t => new[]
            {
                CliOutput.Text(t!["id"]), CliOutput.Text(t["user"]), CliOutput.Text(t["role"]), CliOutput.Text(t["expiresAt"]), CliOutput.Text(t["revokedAt"]), CliOutput.Text(t["description"]),
            }));
            return ExitCodes.Ok;
        }));
        var token = new Command("token", "API tokens.");
        token.Subcommands.Add(create);
        token.Subcommands.Add(list);
        token.Subcommands.Add(revoke);
        return token;
    }
}

/// <summary><c>aicc usage</c>: accelerator-, SCU- and CPU-hours per tenant and model.</summary>
internal static class UsageCommand
{
    public static Command Create()
    {
        var tenant = new Option<string?>("--tenant") { Description = "A tenant (platform admin; * for all)." };
        var from = new Option<DateTimeOffset?>("--from") { Description = "Start (ISO 8601)." };
        var to = new Option<DateTimeOffset?>("--to") { Description = "End (ISO 8601), exclusive." };
        var usage = new Command("usage", "What ended attempts used: accelerator-hours by model, SCU-hours, CPU-hours.") { tenant, from, to };
        usage.SetAction((parse, ct) => CliOutput.RunAsync(async () =>
        {
            var query = new List<string>();
            if (parse.GetValue(tenant) is { } t)
            {
                query.Add("tenant=" + Uri.EscapeDataString(t));
            }

            if (parse.GetValue(from) is { } f)
            {
                query.Add("from=" + Uri.EscapeDataString(f.ToString("O", CultureInfo.InvariantCulture)));
            }

            if (parse.GetValue(to) is { } e)
            {
                query.Add("to=" + Uri.EscapeDataString(e.ToString("O", CultureInfo.InvariantCulture)));
            }

            using var client = ApiClient.FromLogin();
            var report = await client.SendAsync(HttpMethod.Get, "api/v1/usage" + (query.Count > 0 ? "?" + string.Join("&", query) : ""), ct: ct);
            if (CliOutput.Json(parse))
            {
                CliOutput.WriteJson(report);
                return ExitCodes.Ok;
            }

            CliOutput.Table(["TENANT", "MODEL", "ACCELERATOR-HOURS", "SCU-HOURS", "CPU-HOURS"], report["lines"]!.AsArray().Select(l => new[]
            {
                CliOutput.Text(l!["tenant"]), CliOutput.Text(l["model"]), CliOutput.Text(l["acceleratorHours"]), CliOutput.Text(l["scuHours"]), CliOutput.Text(l["cpuHours"]),
            }));
            return ExitCodes.Ok;
        }));
        return usage;
    }
}
