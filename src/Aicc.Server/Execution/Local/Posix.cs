using System.Runtime.InteropServices;

namespace Aicc.Server.Execution.Local;

/// <summary>
/// posix_spawn from glibc: starts a program from an argument vector (no shell ever parses it), in a
/// new session (so the whole process group can be signalled), with stdout/stderr opened straight on
/// files (so the job keeps running and logging if the server dies) and default signal handling.
/// </summary>
internal static unsafe partial class Posix
{
    public const int SigTerm = 15;
    public const int SigKill = 9;
    private const int WNoHang = 1;
    private const short SpawnSetSigDef = 0x04;
    private const short SpawnSetSigMask = 0x08;
    private const short SpawnSetSid = 0x80;
    private const int ORdOnly = 0;
    private const int OWrOnly = 1;
    private const int OCreat = 0x40;
    private const int OAppend = 0x400;

    /// <summary>Spawns; returns the pid, or a negative errno (ENOENT = 2 when the program is not found).</summary>
    public static int Spawn(IReadOnlyList<string> argv, IReadOnlyList<string> env, string workDir, string stdoutPath, string stderrPath)
    {
        // glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 on x86-64/arm64; room to spare.
        var actions = NativeMemory.AllocZeroed(1024);
        var attr = NativeMemory.AllocZeroed(1024);
        var sigset = NativeMemory.AllocZeroed(256);
        var strings = new List<nint>();
        try
        {
            Check(posix_spawn_file_actions_init(actions));
            Check(posix_spawnattr_init(attr));
            Check(posix_spawn_file_actions_addopen(actions, 0, Utf8("/dev/null", strings), ORdOnly, 0));
            Check(posix_spawn_file_actions_addopen(actions, 1, Utf8(stdoutPath, strings), OWrOnly | OCreat | OAppend, 420));
            Check(posix_spawn_file_actions_addopen(actions, 2, Utf8(stderrPath, strings), OWrOnly | OCreat | OAppend, 420));
            Check(posix_spawn_file_actions_addchdir_np(actions, Utf8(workDir, strings)));
            Check(sigemptyset(sigset));
            Check(posix_spawnattr_setsigmask(attr, sigset));
            Check(sigfillset(sigset));
            Check(posix_spawnattr_setsigdefault(attr, sigset));
            Check(posix_spawnattr_setflags(attr, (short)(SpawnSetSid | SpawnSetSigDef | SpawnSetSigMask)));
            var argvPtr = stackalloc byte*[argv.Count + 1];
            for (var i = 0; i < argv.Count; i++)
            {
                argvPtr[i] = Utf8(argv[i], strings);
            }

            argvPtr[argv.Count] = null;
            var envPtr = (byte**)NativeMemory.Alloc((nuint)((env.Count + 1) * sizeof(nint)));
            try
            {
                for (var i = 0; i < env.Count; i++)
                {
                    envPtr[i] = Utf8(env[i], strings);
                }

                envPtr[env.Count] = null;
                int pid;
                var rc = posix_spawnp(&pid, argvPtr[0], actions, attr, argvPtr, envPtr);
                return rc == 0 ? pid : -rc;
            }
            finally
            {
                NativeMemory.Free(envPtr);
            }
        }
        finally
        {
            _ = posix_spawn_file_actions_destroy(actions);
            _ = posix_spawnattr_destroy(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
    }

    /// <summary>Reaps a child without blocking: null while it runs, else its exit code (128 + signal when killed).</summary>
    public static int? TryReap(int pid, out bool notChild)
    {
        int status;
        var rc = waitpid(pid, &status, WNoHang);
        notChild = rc == -1;
        if (rc != pid)
        {
            return null;
        }

        var signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }

    /// <summary>Signals the whole process group led by <paramref name="leader"/>.</summary>
    public static void SignalGroup(int leader, int signal)
    {
        if (leader > 1)
        {
            _ = kill(-leader, signal);
        }
    }

    private static byte* Utf8(string s, List<nint> owned)
    {
        var p = Marshal.StringToCoTaskMemUTF8(s);
        owned.Add(p);
        return (byte*)p;
    }

    private static void Check(int rc)
    {
        if (rc != 0)
        {
            throw new InvalidOperationException($"posix_spawn set-up failed with error {rc}");
        }
    }

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_addopen(void* actions, int fd, byte* path, int flags, uint mode);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_addchdir_np(void* actions, byte* path);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_init(void* attr);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigmask(void* attr, void* set);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigdefault(void* attr, void* set);

    [LibraryImport("libc")]
    private static partial int sigemptyset(void* set);

    [LibraryImport("libc")]
    private static partial int sigfillset(void* set);

    [LibraryImport("libc")]
    private static partial int posix_spawnp(int* pid, byte* file, void* actions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int waitpid(int pid, int* status, int options);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
