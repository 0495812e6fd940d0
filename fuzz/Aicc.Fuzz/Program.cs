using Aicc.Fuzz;

// aicc-fuzz TARGET             run under afl-fuzz (SharpFuzz's out-of-process mode, input on stdin)
// aicc-fuzz TARGET FILE...     replay inputs once each (prints accepted/rejected); exit 1 if any raises an unexpected exception.
//                              Replay with the plain build (dotnet run --project fuzz/Aicc.Fuzz -- …): instrumented
//                              code outside Fuzzer.Run has no coverage map to write to.
// aicc-fuzz --list             the targets
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: aicc-fuzz TARGET [FILE...] | --list");
    return 2;
}

if (args[0] == "--list")
{
    foreach (var name in FuzzTargets.All.Keys)
    {
        Console.WriteLine(name);
    }

    return 0;
}

if (!FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"aicc-fuzz: no target '{args[0]}'; choose {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}

if (args.Length > 1)
{
    var failed = 0;
    foreach (var file in args.Skip(1))
    {
        try
        {
            Console.WriteLine($"{file}: {(target(File.ReadAllBytes(file)) ? "accepted" : "rejected")}");
        }
        catch (Exception e)
        {
            failed++;
            Console.Error.WriteLine($"{file}: {e}");
        }
    }

    return failed == 0 ? 0 : 1;
}

SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    _ = target(buffer.ToArray());
});
return 0;
