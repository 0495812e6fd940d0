namespace Aicc.Server.Execution.Slurm;

/// <summary>
/// How <c>aicc server</c> reaches a Slurm cluster when <c>Aicc:Executor</c> is <c>slurm</c>
/// (section <c>Aicc:Slurm</c>; see docs/slurm.md).
/// </summary>
public sealed class SlurmOptions
{
    /// <summary>slurmrestd's base URL, e.g. http://127.0.0.1:6820.</summary>
    public string Url { get; set; } = "";

    /// <summary>The Slurm user Aicc authenticates as; jobs run as this user.</summary>
    public string User { get; set; } = "";

    /// <summary>A file holding a JWT (re-read when it changes), or empty.</summary>
    public string TokenFile { get; set; } = "";

    /// <summary>
    /// A command whose standard output is a JWT (for example <c>scontrol token lifespan=3600</c>; a
    /// leading <c>SLURM_JWT=</c> is removed), run again before the token expires. Split on spaces and
    /// started without a shell.
    /// </summary>
    public string TokenCommand { get; set; } = "";

    /// <summary>The partition jobs are submitted to; empty means Slurm's default partition.</summary>
    public string Partition { get; set; } = "";

    /// <summary>Seconds between state polls of a running attempt.</summary>
    public double PollSeconds { get; set; } = 1.0;

    /// <summary>Seconds an attempt may stay pending in Slurm before Aicc gives up on it (start failure).</summary>
    public double StartTimeoutSeconds { get; set; } = 300;

    /// <summary>Seconds between sweeps that cancel Slurm jobs carrying this installation's marker that no live attempt owns.</summary>
    public double SweepSeconds { get; set; } = 30;

    /// <summary>The accelerator model of a GPU GRES that names no type (<c>gpu:8</c>).</summary>
    public string DefaultModel { get; set; } = "GPU";

    /// <summary>Seconds one HTTP call to slurmrestd may take.</summary>
    public double RequestTimeoutSeconds { get; set; } = 15;

    public IEnumerable<string> Validate()
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            yield return $"Aicc:Slurm:Url: '{Url}'; give slurmrestd's http(s) URL, e.g. http://127.0.0.1:6820";
        }

        if (string.IsNullOrWhiteSpace(User) || User.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
        {
            yield return $"Aicc:Slurm:User: '{User}'; give the Slurm user name Aicc submits as";
        }

        if (string.IsNullOrWhiteSpace(TokenFile) == string.IsNullOrWhiteSpace(TokenCommand))
        {
            yield return "Aicc:Slurm:TokenFile/TokenCommand: set exactly one (a file with a JWT, or a command such as 'scontrol token lifespan=3600')";
        }

        if (Partition.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
        {
            yield return $"Aicc:Slurm:Partition: '{Partition}'; letters, digits, '_', '-' and '.' only";
        }

        if (PollSeconds is < 0.05 or > 600 || SweepSeconds is < 1 or > 3600 || StartTimeoutSeconds is < 1 or > 86_400 || RequestTimeoutSeconds is < 1 or > 300)
        {
            yield return "Aicc:Slurm:PollSeconds (0.05..600), SweepSeconds (1..3600), StartTimeoutSeconds (1..86400), RequestTimeoutSeconds (1..300): out of range";
        }
    }
}
