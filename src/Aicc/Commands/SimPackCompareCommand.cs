using System.CommandLine;

namespace Aicc.Commands;

internal static class SimPackCompareCommand
{
    public static Command Create() => new("pack-compare", "placeholder");
}
