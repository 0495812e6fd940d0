namespace Aicc.Server.Hosting;

/// <summary>The layout of the data directory: one place to back up.</summary>
public sealed class DataDirectory
{
    public DataDirectory(ServerOptions options)
    {
        Root = Path.GetFullPath(options.DataDirectory);
    }

    public string Root { get; }

    public string DatabasePath => Path.Combine(Root, "aicc.db");

    public string AdminTokenPath => Path.Combine(Root, "admin-token");

    public string JobsRoot => Path.Combine(Root, "jobs");

    public string WorkDirectory(string workloadId) => Path.Combine(JobsRoot, workloadId, "work");

    public string AttemptDirectory(string workloadId, int attempt) => Path.Combine(JobsRoot, workloadId, $"attempt-{attempt}");

    public string LogPath(string workloadId, int attempt, string podSet, int index, bool stderr) =>
        Path.Combine(AttemptDirectory(workloadId, attempt), $"{podSet}-{index}.{(stderr ? "err" : "out")}");

    public void Create()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(JobsRoot);
    }
}
