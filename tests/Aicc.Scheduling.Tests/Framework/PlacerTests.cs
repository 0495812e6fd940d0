using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Tests.Builders;
using CsCheck;

namespace Aicc.Scheduling.Tests.Framework;

public sealed class PlacerTests
{
    private static readonly string[] Models = ["A100", "H100", "T4"];

    /// <summary>
    /// The placer's score cache (one tree per pod shape, re-scored only where nodes or plugin generations
    /// changed) must choose exactly the node a full scan chooses, pod after pod, for every deterministic
    /// built-in policy, on clusters of mixed models whose target workload restricts some classes to some
    /// models (so that ModelScarcity's generation moves while the cluster fills).
    /// </summary>
    [Fact]
    public void FindNode_Cached_ChoosesWhatAFullScanChooses()
    {
        Gen.Int[0, int.MaxValue].Sample(
            seed =>
            {
                var random = new Random(seed);
                foreach (var policy in new[] { "aicc", "fgd", "bestfit", "gpupacking", "dotprod", "gpuclustering" })
                {
                    var problem = Check(policy, random.Next());
                    if (problem is not null)
                    {
                        throw new InvalidOperationException($"{policy}, seed {seed}: {problem}");
                    }
                }
            },
            iter: 10);
    }

    private static string? Check(string policy, int seed)
    {
        var random = new Random(seed);
        var builder = Make.Scheduler().Policy(policy);
        var nodes = random.Next(20, 60);
        for (var i = 0; i < nodes; i++)
        {
            builder.Node(Make.Node($"n{i:D2}").Gpus(random.Next(1, 9), Models[random.Next(Models.Length)]).Cpu(random.Next(8, 65) * 1000));
        }

        var s = builder.Build();
        var masks = new[] { s.Catalog.AllModelsMask, Mask(s, "T4"), Mask(s, "A100") | Mask(s, "H100"), Mask(s, "H100") };
        for (var c = 0; c < 6; c++)
        {
            var whole = random.Next(2) == 0;
            s.Placer.Context.Workload.Add(random.Next(1, 9) * 1000, whole ? random.Next(1, 3) : 0, whole ? 0 : random.Next(1, 10) * 100, masks[random.Next(masks.Length)], random.Next(1, 10));
        }

        for (var i = 0; i < 300; i++)
        {
            var models = masks[random.Next(masks.Length)];
            var accelerator = random.Next(5) switch
            {
                0 => AcceleratorRequest.None,
                1 or 2 => AcceleratorRequest.Whole(random.Next(1, 3)),
                _ => AcceleratorRequest.Fraction(random.Next(1, 10) * 100),
            };
            var pod = new PodRequest(new PodSetSpec { CpuMilli = random.Next(1, 9) * 1000, Accelerator = accelerator }, models);
            var full = s.Placer.FindAmong(null, pod);
            var cached = s.Placer.FindNode(pod);
            if (full != cached)
            {
                return $"pod {i}: the cache chose node {cached}, a full scan {full}";
            }

            if (cached >= 0)
            {
                Assert.True(s.Placer.TryBind(cached, pod, i + 1, out _));
            }
        }

        return null;
    }

    private static ulong Mask(Scheduler s, string model) => s.Catalog.TryGet(model, out var t) ? 1UL << t.Id : throw new ArgumentException(model);
}
