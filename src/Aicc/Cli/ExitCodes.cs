namespace Aicc;

/// <summary>Exit codes of the <c>aicc</c> client verbs (docs/cli.md lists them).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The job that was followed ended Failed.</summary>
    public const int JobFailed = 1;

    /// <summary>Bad flags or a bad job file.</summary>
    public const int Usage = 2;

    /// <summary>Not logged in, or the token was refused (401/403).</summary>
    public const int Auth = 3;

    /// <summary>No such object (404).</summary>
    public const int NotFound = 4;

    /// <summary>The server rejected the request (400/409/413/415/422).</summary>
    public const int Rejected = 5;

    /// <summary>Server unreachable, busy (429/503) or failing (5xx).</summary>
    public const int Unavailable = 6;

    /// <summary>The job that was followed ended Cancelled.</summary>
    public const int JobCancelled = 7;

    /// <summary><c>aicc plan</c>: no server mix within the search bounds meets the SLO (the closest plan is still written).</summary>
    public const int SloNotMet = 8;
}
