using System.Text.Json;

namespace Aicc.Server.Api;

/// <summary>Where one pod runs: node, node-relative device indices, and its torchrun rank.</summary>
public sealed record PlacementDto(string PodSet, int Index, string Node, IReadOnlyList<int> Devices, int MilliPerDevice, int Rank)
{
    public static IReadOnlyList<PlacementDto> Read(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<PlacementDto>>(json, JsonBody.Options) ?? [];

    public static string Write(IReadOnlyList<PlacementDto> pods) => JsonSerializer.Serialize(pods, JsonBody.Options);
}
