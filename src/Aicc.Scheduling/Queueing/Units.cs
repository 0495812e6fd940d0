using System.Globalization;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Queueing;

/// <summary>Quantities in the words a user reads: cores, GiB, devices, SCU.</summary>
public static class Units
{
    public static string Format(int resource, long value) => resource switch
    {
        ResourceNames.CpuIndex => Trim(value / 1000.0) + " cores",
        ResourceNames.MemoryIndex => Trim(value / 1024.0) + " GiB",
        ResourceNames.ScuIndex => Trim(value / 1000.0) + " SCU",
        _ => Trim(value / 1000.0) + " devices",
    };

    private static string Trim(double value) =>
        value >= long.MaxValue / 1000.0 ? "unlimited" : value.ToString("0.###", CultureInfo.InvariantCulture);
}
