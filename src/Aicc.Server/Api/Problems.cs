using Aicc.Scheduling.Validation;
using Microsoft.AspNetCore.Http;

namespace Aicc.Server.Api;

/// <summary>RFC 9457 problem details that name every bad field and what to do about it.</summary>
public static class Problems
{
    public static IResult Invalid(IReadOnlyList<ValidationProblem> problems, int status = StatusCodes.Status400BadRequest) =>
        Results.Problem(
            statusCode: status,
            title: "The request has invalid fields",
            detail: string.Join("; ", problems.Select(p => p.ToString())),
            type: "urn:aicc:problem:invalid-request",
            extensions: new Dictionary<string, object?>
            {
                ["errors"] = problems.Select(p => new Dictionary<string, string> { ["field"] = p.Field, ["message"] = p.Message }).ToList(),
            });

    public static IResult Invalid(string field, string message) => Invalid([new ValidationProblem(field, message)]);

    /// <summary>Used both for missing objects and for other tenants' objects, so the two cannot be told apart.</summary>
    public static IResult NotFound(string kind, string id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"no {kind} '{id}'", type: "urn:aicc:problem:not-found");

    public static IResult Forbidden(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail, type: "urn:aicc:problem:forbidden");

    public static IResult Conflict(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail, type: "urn:aicc:problem:conflict");

    public static IResult Unprocessable(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Unprocessable request", detail: detail, type: "urn:aicc:problem:unprocessable");
}
