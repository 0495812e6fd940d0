using System.Globalization;
using System.Text;

namespace Aicc.Server.Execution.Local;

/// <summary>Reads what the reconciler needs from /proc: start times, process groups and the marker variable.</summary>
internal static class ProcFs
{
    public const string MarkerVariable = "AICC_MARKER";

    /// <summary>Where the pod's shim writes the exit status; read from a live adopted process's environment.</summary>
    public const string ExitFileVariable = "AICC_EXIT_FILE";

    /// <summary>(state, process group, start time in clock ticks) or null when the pid is gone.</summary>
    public static (char State, int Group, ulong StartTime)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var close = text.LastIndexOf(')');
            var fields = text[(close + 2)..].Split(' ');

            // After "pid (comm) " come state(3), ppid(4), pgrp(5) … starttime(22).
            return (fields[0][0], int.Parse(fields[2], CultureInfo.InvariantCulture), ulong.Parse(fields[19], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    public static bool IsAlive(int pid, ulong startTime) =>
        Stat(pid) is { } s && s.StartTime == startTime && s.State != 'Z' && s.State != 'X';

    public static string? Marker(int pid) => Variable(pid, MarkerVariable);

    public static string? Variable(int pid, string name)
    {
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid}/environ");
            var prefix = Encoding.ASCII.GetBytes(name + "=");
            var span = bytes.AsSpan();
            while (span.Length > 0)
            {
                var end = span.IndexOf((byte)0);
                var entry = end < 0 ? span : span[..end];
                if (entry.StartsWith(prefix))
                {
                    return Encoding.UTF8.GetString(entry[prefix.Length..]);
                }

                span = end < 0 ? [] : span[(end + 1)..];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone or not ours.
        }

        return null;
    }

    public static IEnumerable<int> Pids()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }
}
