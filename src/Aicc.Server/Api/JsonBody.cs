using System.Text.Json;
using System.Text.Json.Serialization;
using Aicc.Scheduling.Validation;
using Aicc.Server.Hosting;
using Microsoft.AspNetCore.Http;

namespace Aicc.Server.Api;

/// <summary>
/// Reads a JSON body strictly: a size limit, a depth limit, unknown fields rejected, and a problem
/// that names the field instead of a stack trace.
/// </summary>
public static class JsonBody
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.MaxDepth = 32;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.AllowTrailingCommas = false;
        options.ReadCommentHandling = JsonCommentHandling.Disallow;
        return options;
    }

    public static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpRequest request, ServerOptions server, CancellationToken ct)
        where T : class
    {
        if (request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type", detail: "send the body as application/json", type: "urn:aicc:problem:media-type"));
        }

        if (request.ContentLength > server.MaxBodyBytes)
        {
            return (null, TooLarge(server));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > server.MaxBodyBytes)
            {
                return (null, TooLarge(server));
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return (null, Problems.Invalid("body", "is empty; send a JSON object"));
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), Options);
            return value is null ? (null, Problems.Invalid("body", "must be a JSON object, not null")) : (value, null);
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid([Describe(e)]));
        }
    }

    private static IResult TooLarge(ServerOptions server) =>
        Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large", detail: $"the body is limited to {server.MaxBodyBytes} bytes", type: "urn:aicc:problem:too-large");

    private static ValidationProblem Describe(JsonException e)
    {
        var path = string.IsNullOrEmpty(e.Path) ? "body" : e.Path.TrimStart('$').TrimStart('.');
        if (path.Length == 0)
        {
            path = "body";
        }

        var message = e.Message;
        if (message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            return new(path, "unknown field; remove it (see /openapi/v1.json for the accepted fields)");
        }

        if (message.Contains("maximum configured depth", StringComparison.Ordinal))
        {
            return new(path, "nested too deeply");
        }

        if (message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return new(path, "has the wrong type or is out of range");
        }

        if (message.Contains("missing required properties", StringComparison.Ordinal))
        {
            return new(path, "a required field is missing");
        }

        return new(path, "is not valid JSON" + (e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : ""));
    }
}
