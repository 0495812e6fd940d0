using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aicc.Cli;

/// <summary>Where <c>aicc login</c> keeps the server and token: the user's config directory, mode 0600.</summary>
internal sealed record CliConfig(string Server, string Token)
{
    public static string PathOf() =>
        Environment.GetEnvironmentVariable("AICC_CONFIG") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.Create), "aicc", "config.json");

    public static CliConfig? Load()
    {
        var path = PathOf();
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            var server = node?["server"]?.GetValue<string>();
            var token = node?["token"]?.GetValue<string>();
            return server is null || token is null ? null : new CliConfig(server, token);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Save()
    {
        var path = PathOf();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new StreamWriter(path, options))
        {
            file.Write(new JsonObject { ["server"] = Server, ["token"] = Token }.ToJsonString());
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

/// <summary>A failed call, already turned into a message and an exit code.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Talks to the server's /api/v1 with the logged-in token; turns problem details into messages.</summary>
internal sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    public ApiClient(CliConfig config, TimeSpan? timeout = null)
    {
        _http = new HttpClient { BaseAddress = new Uri(config.Server.TrimEnd('/') + "/"), Timeout = timeout ?? TimeSpan.FromSeconds(100) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", config.Token);
    }

    public static ApiClient FromLogin()
    {
        var config = CliConfig.Load() ?? throw new CliException(ExitCodes.Auth, $"not logged in: run `aicc login --server URL --token TOKEN` (config: {CliConfig.PathOf()})");
        return new ApiClient(config);
    }

    public void Dispose() => _http.Dispose();

    public async Task<JsonNode> SendAsync(HttpMethod method, string path, object? body = null, IDictionary<string, string>? headers = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            var json = body as string ?? JsonSerializer.Serialize(body, Aicc.Server.Api.JsonBody.Options);
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        foreach (var (k, v) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(k, v);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new CliException(ExitCodes.Unavailable, $"cannot reach {_http.BaseAddress}: {e.Message}; is `aicc server` running?");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                throw Failure(response, text);
            }

            return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) ?? new JsonObject();
        }
    }

    public async Task<Stream> OpenStreamAsync(string path, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            _http.Timeout = Timeout.InfiniteTimeSpan;
            response = await _http.GetAsync(path.TrimStart('/'), HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException e)
        {
            throw new CliException(ExitCodes.Unavailable, $"cannot reach {_http.BaseAddress}: {e.Message}");
        }

        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            response.Dispose();
            throw Failure(response, text);
        }

        return await response.Content.ReadAsStreamAsync(ct);
    }

    private static CliException Failure(HttpResponseMessage response, string text)
    {
        var message = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        try
        {
            var problem = JsonNode.Parse(text);
            if (problem?["errors"] is JsonArray errors && errors.Count > 0)
            {
                message = string.Join(Environment.NewLine, errors.Select(e => $"{e?["field"]}: {e?["message"]}"));
            }
            else if (problem?["detail"]?.GetValue<string>() is { } detail)
            {
                message = detail;
            }
        }
        catch (JsonException)
        {
            // Not a problem document; keep the status line.
        }

        var code = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => ExitCodes.Auth,
            HttpStatusCode.NotFound => ExitCodes.NotFound,
            HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable => ExitCodes.Unavailable,
            >= HttpStatusCode.InternalServerError => ExitCodes.Unavailable,
            _ => ExitCodes.Rejected,
        };
        if (code == ExitCodes.Auth && response.StatusCode == HttpStatusCode.Unauthorized)
        {
            message += " (log in again with `aicc login`)";
        }

        return new CliException(code, message);
    }
}
