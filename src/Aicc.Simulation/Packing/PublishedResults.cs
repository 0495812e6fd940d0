using System.Globalization;

namespace Aicc.Simulation.Packing;

/// <summary>
/// The FGD authors' published 10-seed means (<c>fgd_summary.csv</c> derived from the artifact's
/// <c>expected_results/</c>) and, when <c>analysis_allo_discrete.csv</c> lies beside it, their mean
/// allocation curves. Policy names map to ours: <c>06-FGD</c> → <c>fgd</c>.
/// </summary>
public sealed class PublishedResults
{
    private readonly Dictionary<(string Workload, string Policy), Dictionary<string, double>> _rows = [];
    private readonly Dictionary<(string Workload, string Policy), double[]> _curves = [];
    private readonly Dictionary<(string Workload, string Policy, string Metric), List<double>> _seeds = [];

    public static string OurName(string published) =>
        (published.Contains('-', StringComparison.Ordinal) ? published[(published.IndexOf('-', StringComparison.Ordinal) + 1)..] : published).ToLowerInvariant();

    public bool TryGet(string workload, string policy, string column, out double value)
    {
        value = double.NaN;
        return _rows.TryGetValue((workload, policy), out var row) && row.TryGetValue(column, out value) && !double.IsNaN(value);
    }

    public double[]? Curve(string workload, string policy) => _curves.GetValueOrDefault((workload, policy));

    /// <summary>
    /// The published per-seed values of <paramref name="metric"/> (<c>alloc@100</c>, <c>alloc@130</c> from
    /// <c>analysis_allo_discrete.csv</c>, <c>frag@90</c> from <c>analysis_frag_ratio_discrete.csv</c>),
    /// or null when those files are not beside the summary.
    /// </summary>
    public IReadOnlyList<double>? Seeds(string workload, string policy, string metric) => _seeds.GetValueOrDefault((workload, policy, metric));

    /// <summary>The pod lists that have a published row for <paramref name="policy"/>.</summary>
    public IReadOnlySet<string> Workloads(string policy) =>
        _rows.Keys.Where(k => k.Policy == policy).Select(k => k.Workload).ToHashSet(StringComparer.Ordinal);

    /// <summary>Reads the summary; problems name file, line and column.</summary>
    public static PublishedResults Read(string path, List<string> problems)
    {
        var result = new PublishedResults();
        if (!File.Exists(path))
        {
            problems.Add($"{path}: file not found");
            return result;
        }

        var lines = File.ReadAllLines(path);
        if (lines.Length == 0)
        {
            problems.Add($"{path}: line 1: empty file (expected a header line)");
            return result;
        }

        var header = lines[0].Split(',');
        var workloadColumn = Array.IndexOf(header, "workload");
        var policyColumn = Array.IndexOf(header, "policy");
        if (workloadColumn < 0 || policyColumn < 0)
        {
            problems.Add($"{path}: line 1: missing column 'workload' or 'policy'");
            return result;
        }

        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            var fields = lines[i].Split(',');
            if (fields.Length != header.Length)
            {
                problems.Add($"{path}: line {i + 1}: {fields.Length} fields, the header has {header.Length}");
                continue;
            }

            var row = new Dictionary<string, double>(StringComparer.Ordinal);
            for (var c = 0; c < header.Length; c++)
            {
                if (c == workloadColumn || c == policyColumn)
                {
                    continue;
                }

                if (double.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                {
                    row[header[c]] = v;
                }
                else if (fields[c].Length > 0)
                {
                    problems.Add($"{path}: line {i + 1}, column {c + 1} ({header[c]}): '{fields[c]}' is not a number");
                }
            }

            result._rows[(fields[workloadColumn], OurName(fields[policyColumn]))] = row;
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var curves = Path.Combine(dir, "analysis_allo_discrete.csv");
        if (File.Exists(curves))
        {
            result.ReadCurves(curves);
        }

        var frag = Path.Combine(dir, "analysis_frag_ratio_discrete.csv");
        if (File.Exists(frag))
        {
            result.ReadSeeds(File.ReadAllLines(frag), "frag", 90);
        }

        return result;
    }

    private void ReadCurves(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        var first = Array.IndexOf(header, "0");
        if (first < 0)
        {
            return;
        }

        ReadSeeds(lines, "alloc", 100, 130);
        var sums = new Dictionary<(string, string), (double[] Sum, int[] Count)>();
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            if (f.Length != header.Length)
            {
                continue;
            }

            var key = (f[0], OurName(f[1]));
            if (!sums.TryGetValue(key, out var acc))
            {
                acc = (new double[PackingSimulation.MaxLoadPct + 1], new int[PackingSimulation.MaxLoadPct + 1]);
                sums[key] = acc;
            }

            for (var k = 0; k <= PackingSimulation.MaxLoadPct && first + k < f.Length; k++)
            {
                if (double.TryParse(f[first + k], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                {
                    acc.Sum[k] += v;
                    acc.Count[k]++;
                }
            }
        }

        foreach (var (key, acc) in sums)
        {
            _curves[key] = [.. acc.Sum.Select((s, k) => acc.Count[k] == 0 ? double.NaN : s / acc.Count[k])];
        }
    }

    /// <summary>One row per seed, a column per arrived load ("0".."130"): keeps the values at <paramref name="loads"/>.</summary>
    private void ReadSeeds(string[] lines, string metric, params int[] loads)
    {
        if (lines.Length == 0)
        {
            return;
        }

        var header = lines[0].Split(',');
        var columns = loads.Select(l => Array.IndexOf(header, l.ToString(CultureInfo.InvariantCulture))).ToArray();
        if (header.Length < 2 || columns.Any(c => c < 0))
        {
            return;
        }

        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            if (f.Length != header.Length)
            {
                continue;
            }

            for (var i = 0; i < loads.Length; i++)
            {
                if (double.TryParse(f[columns[i]], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                {
                    var key = (f[0], OurName(f[1]), $"{metric}@{loads[i]}");
                    if (!_seeds.TryGetValue(key, out var list))
                    {
                        _seeds[key] = list = [];
                    }

                    list.Add(v);
                }
            }
        }
    }
}
