using System.Text.Json.Serialization;

namespace Laps.Cli.Bench;

/// <summary>What `laps bench` measured (the JSON field names are a contract: docs/cli.md).</summary>
internal sealed record BenchReport
{
    [JsonPropertyName("target")] public required string Target { get; init; }
    [JsonPropertyName("requests")] public required int Requests { get; init; }
    [JsonPropertyName("completed")] public required int Completed { get; init; }
    [JsonPropertyName("errors")] public required int Errors { get; init; }
    [JsonPropertyName("duration_s")] public required double DurationSeconds { get; init; }
    [JsonPropertyName("mean_latency_s")] public required double? MeanLatencySeconds { get; init; }
    [JsonPropertyName("p50_latency_s")] public required double? P50LatencySeconds { get; init; }
    [JsonPropertyName("p99_latency_s")] public required double? P99LatencySeconds { get; init; }
    [JsonPropertyName("mean_ttft_s")] public required double? MeanTtftSeconds { get; init; }
    [JsonPropertyName("tokens_per_s")] public required double TokensPerSecond { get; init; }

    /// <summary>Completions per second up to the 90th percentile completion: the capacity when every request is sent at once.</summary>
    [JsonPropertyName("throughput_p90_rps")] public required double? ThroughputAt90thCompletion { get; init; }

    /// <summary>Errors by kind ("http 429", "timeout", ...), for the table.</summary>
    [JsonPropertyName("error_kinds")] public required IReadOnlyDictionary<string, int> ErrorKinds { get; init; }

    /// <summary>The max_tokens sent: a number for every request, or "trace" (each entry's own output length).</summary>
    [JsonPropertyName("max_tokens")] public string? MaxTokens { get; init; }
}
