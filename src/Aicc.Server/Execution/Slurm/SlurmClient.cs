using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aicc.Server.Execution.Slurm;

/// <summary>A node as slurmrestd lists it.</summary>
public sealed record SlurmNode(string Name, string Address, int Cpus, long RealMemoryMiB, string Gres, string State, IReadOnlyList<string> Partitions, IReadOnlyList<string>? Flags = null)
{
    /// <summary>Slurm will not start new work there: down, failed, drained or draining, not responding.</summary>
    public bool Unavailable =>
        State is "down" or "error" or "fail" or "future" or "unknown" ||
        (Flags ?? []).Any(f => f is "DRAIN" or "DRAINING" or "DRAINED" or "FAIL" or "FAILING" or "NOT_RESPONDING" or "MAINTENANCE" or "REBOOT_REQUESTED" or "POWERED_DOWN");
}

/// <summary>One Slurm job (a heterogeneous job lists one entry per component; the leader has offset 0).</summary>
public sealed record SlurmJob(int Id, string Name, string Comment, string State, int RawExitCode, string StateReason, int HetJobId, int HetOffset, string Nodes)
{
    public bool IsLeader => HetJobId == 0 || HetJobId == Id;

    /// <summary>Slurm reports the wait status: the exit code is its high byte, a signal its low seven bits.</summary>
    public int ExitCode => (RawExitCode & 0x7f) != 0 ? 128 + (RawExitCode & 0x7f) : (RawExitCode >> 8) & 0xff;
}

/// <summary>
/// A call to slurmrestd failed. <see cref="Transient"/> is true for transport failures and timeouts,
/// where the request may or may not have reached Slurm; <see cref="ErrorNumber"/> is Slurm's own
/// error number when it gave one (2017 unknown job id, 2014 impossible request, 2002 permission denied).
/// </summary>
public sealed class SlurmException(string message, int? errorNumber = null, bool transient = false, Exception? inner = null) : Exception(message, inner)
{
    public const int InvalidJobId = 2017;

    public int? ErrorNumber { get; } = errorNumber;

    public bool Transient { get; } = transient;
}

/// <summary>
/// slurmrestd over HTTP with JWT headers. The OpenAPI plugin version lives in <see cref="ApiVersion"/>
/// only; a newer plugin needs a new constant and, where its JSON differs, a mapping here.
/// </summary>
public sealed class SlurmClient(HttpClient http, SlurmOptions options, SlurmToken token)
{
    /// <summary>The plugin of Slurm 22.05, Debian 12's version.</summary>
    public const string ApiVersion = "v0.0.38";

    private string Base => options.Url.TrimEnd('/') + "/slurm/" + ApiVersion + "/";

    public async Task<IReadOnlyList<SlurmNode>> NodesAsync(CancellationToken ct)
    {
        var doc = await SendAsync(HttpMethod.Get, "nodes", null, ct);
        return [.. (doc?["nodes"]?.AsArray() ?? []).OfType<JsonObject>().Select(n => new SlurmNode(
            Str(n, "name"),
            Str(n, "address"),
            Int(n, "cpus"),
            Long(n, "real_memory"),
            Str(n, "gres"),
            Str(n, "state"),
            [.. (n["partitions"]?.AsArray() ?? []).Select(p => p?.GetValue<string>() ?? "")],
            [.. (n["state_flags"]?.AsArray() ?? []).Select(f => f?.GetValue<string>() ?? "")]))];
    }

    /// <summary>Submits a job; returns its id (a heterogeneous job's leader id).</summary>
    public async Task<int> SubmitAsync(JsonObject submission, CancellationToken ct)
    {
        var doc = await SendAsync(HttpMethod.Post, "job/submit", submission, ct);
        return doc?["job_id"] is JsonValue v && v.TryGetValue<int>(out var id) && id > 0
            ? id
            : throw new SlurmException("slurmrestd accepted the submission but gave no job id");
    }

    /// <summary>The job's entries (one per heterogeneous component), or empty when Slurm no longer knows it.</summary>
    public async Task<IReadOnlyList<SlurmJob>> JobAsync(int id, CancellationToken ct)
    {
        try
        {
            return Jobs(await SendAsync(HttpMethod.Get, "job/" + id.ToString(CultureInfo.InvariantCulture), null, ct));
        }
        catch (SlurmException e) when (e.ErrorNumber == SlurmException.InvalidJobId)
        {
            return [];
        }
    }

    /// <summary>Every job slurmctld still holds (finished ones stay for MinJobAge).</summary>
    public async Task<IReadOnlyList<SlurmJob>> JobsAsync(CancellationToken ct) => Jobs(await SendAsync(HttpMethod.Get, "jobs", null, ct));

    /// <summary>Sends a signal (SIGTERM) or, with null, cancels the job outright. A job Slurm no longer knows is not an error.</summary>
    public async Task SignalAsync(int id, string? signal, CancellationToken ct)
    {
        var path = "job/" + id.ToString(CultureInfo.InvariantCulture) + (signal is null ? "" : "?signal=" + signal);
        try
        {
            await SendAsync(HttpMethod.Delete, path, null, ct);
        }
        catch (SlurmException e) when (e.ErrorNumber == SlurmException.InvalidJobId)
        {
        }
    }

    private static List<SlurmJob> Jobs(JsonNode? doc) =>
        [.. (doc?["jobs"]?.AsArray() ?? []).OfType<JsonObject>().Select(j => new SlurmJob(
            Int(j, "job_id"),
            Str(j, "name"),
            Str(j, "comment"),
            Str(j, "job_state"),
            Int(j, "exit_code"),
            Str(j, "state_reason"),
            Int(j, "het_job_id"),
            Int(j, "het_job_offset"),
            Str(j, "nodes")))];

    private async Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, Base + path);
        request.Headers.Add("X-SLURM-USER-NAME", options.User);
        request.Headers.Add("X-SLURM-USER-TOKEN", await token.GetAsync(ct));
        if (body is not null)
        {
            // slurmrestd 22.05 answers 400 to "application/json; charset=utf-8": no parameters.
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.RequestTimeoutSeconds));
        HttpResponseMessage response;
        string text;
        try
        {
            response = await http.SendAsync(request, timeout.Token);
            text = await response.Content.ReadAsStringAsync(timeout.Token);
        }
        catch (HttpRequestException e)
        {
            throw new SlurmException($"slurmrestd at {options.Url} cannot be reached: {e.Message}", transient: true, inner: e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new SlurmException($"slurmrestd at {options.Url} did not answer {method} {path} within {options.RequestTimeoutSeconds} s", transient: true, inner: e);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotModified)
            {
                return null;
            }

            JsonNode? doc = null;
            try
            {
                doc = text.Length == 0 ? null : JsonNode.Parse(text);
            }
            catch (JsonException)
            {
            }

            // slurmrestd 22.05 answers most failures, a bad token included, with 500 and an errors array.
            var errors = (doc?["errors"] as JsonArray ?? []).OfType<JsonObject>().Where(e => e["error_number"] is not null || e["error_code"] is not null).ToList();
            var error = errors.FirstOrDefault(e => e["error_number"] is JsonValue v && v.TryGetValue<int>(out var n) && n != 0) ?? errors.FirstOrDefault();
            if (!response.IsSuccessStatusCode || (error is not null && Int(error, "error_number") != 0))
            {
                var number = error is null ? (int?)null : Int(error, "error_number") is var n and not 0 ? n : Int(error, "error_code");
                var what = error is null ? $"HTTP {(int)response.StatusCode} {Excerpt(text)}" : $"{Str(error, "error")} ({Str(error, "description")}, error {number})";
                var transient = response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
                throw new SlurmException($"slurmrestd {method} {path}: {what}", number, transient);
            }

            return doc;
        }
    }

    private static string Excerpt(string text)
    {
        var t = new string([.. text.Take(300).Select(c => char.IsControl(c) ? ' ' : c)]).Trim();
        return t.Length == 0 ? "(empty answer)" : t;
    }

    private static string Str(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";

    private static int Int(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<long>(out var n) ? (int)Math.Clamp(n, int.MinValue, int.MaxValue) : 0;

    private static long Long(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;
}

/// <summary>
/// The JWT sent to slurmrestd: read from a file (again when the file changes) or printed by a
/// command, run again a minute before the token's <c>exp</c>.
/// </summary>
public sealed class SlurmToken(SlurmOptions options, TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private string? _value;
    private DateTimeOffset _refreshAt;
    private DateTime _fileStamp;

    public void Dispose() => _lock.Dispose();

    public async Task<string> GetAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            if (options.TokenFile.Length > 0)
            {
                var stamp = File.Exists(options.TokenFile) ? File.GetLastWriteTimeUtc(options.TokenFile) : default;
                if (_value is null || stamp != _fileStamp)
                {
                    _value = Clean(File.Exists(options.TokenFile) ? await File.ReadAllTextAsync(options.TokenFile, ct) : throw new SlurmException($"Aicc:Slurm:TokenFile '{options.TokenFile}' does not exist"));
                    _fileStamp = stamp;
                }
            }
            else if (_value is null || now >= _refreshAt)
            {
                _value = Clean(await RunAsync(options.TokenCommand, ct));
                _refreshAt = Expiry(_value) is { } exp ? exp - TimeSpan.FromSeconds(60) : now + TimeSpan.FromMinutes(10);
            }

            return _value.Length > 0 ? _value : throw new SlurmException("the Slurm token is empty; check Aicc:Slurm:TokenFile or TokenCommand");
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The <c>exp</c> claim of a JWT, or null when it has none.</summary>
    internal static DateTimeOffset? Expiry(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            var claims = JsonNode.Parse(Convert.FromBase64String(payload));
            return claims?["exp"] is JsonValue v && v.TryGetValue<long>(out var exp) ? DateTimeOffset.FromUnixTimeSeconds(exp) : null;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return null;
        }
    }

    private static string Clean(string text)
    {
        var t = text.Trim();
        return t.StartsWith("SLURM_JWT=", StringComparison.Ordinal) ? t["SLURM_JWT=".Length..].Trim() : t;
    }

    private static async Task<string> RunAsync(string command, CancellationToken ct)
    {
        var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var start = new ProcessStartInfo(parts[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var p in parts.Skip(1))
        {
            start.ArgumentList.Add(p);
        }

        try
        {
            using var process = Process.Start(start) ?? throw new SlurmException($"cannot run the token command '{command}'");
            var output = process.StandardOutput.ReadToEndAsync(ct);
            var error = process.StandardError.ReadToEndAsync(ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            return process.ExitCode == 0 ? await output : throw new SlurmException($"the token command '{command}' exited with {process.ExitCode}: {(await error).Trim()}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SlurmException($"cannot run the token command '{command}': {e.Message}", inner: e);
        }
    }
}
