using System.Text.Json.Serialization;

namespace Laps.Simulation.Experiments;

/// <summary>One policy on one workload, load, batch size and seed: the row of results.json (docs/cli.md).</summary>
public sealed record RunResult
{
    [JsonPropertyName("policy")] public required string Policy { get; init; }
    [JsonPropertyName("workload")] public required string Workload { get; init; }
    [JsonPropertyName("proposer")] public required string Proposer { get; init; }
    [JsonPropertyName("arrivals")] public required string Arrivals { get; init; }
    [JsonPropertyName("load")] public required double Load { get; init; }
    [JsonPropertyName("batch")] public required int Batch { get; init; }
    [JsonPropertyName("seed")] public required int Seed { get; init; }
    [JsonPropertyName("requests")] public required int Requests { get; init; }
    [JsonPropertyName("mean_latency_s")] public required double MeanLatencySeconds { get; init; }
    [JsonPropertyName("p50_latency_s")] public required double P50LatencySeconds { get; init; }
    [JsonPropertyName("p99_latency_s")] public required double P99LatencySeconds { get; init; }
    [JsonPropertyName("mean_ttft_s")] public required double MeanTtftSeconds { get; init; }
    [JsonPropertyName("preemptions_per_request")] public required double PreemptionsPerRequest { get; init; }

    /// <summary>Mean absolute percentage error of the policy's remaining-time estimate; null without one.</summary>
    [JsonPropertyName("estimate_mape")] public required double? EstimateMape { get; init; }

    // Extensions beyond the contract's fields.
    [JsonPropertyName("predictor")] public required string Predictor { get; init; }
    [JsonPropertyName("arrival_rate_rps")] public required double ArrivalRate { get; init; }
    [JsonPropertyName("p99_ttft_s")] public required double P99TtftSeconds { get; init; }
    [JsonPropertyName("busy_s")] public required double BusySeconds { get; init; }
    [JsonPropertyName("makespan_s")] public required double MakespanSeconds { get; init; }
    [JsonPropertyName("steps")] public required long Steps { get; init; }
    [JsonPropertyName("recomputed_tokens")] public required long RecomputedTokens { get; init; }

    /// <summary>Workers in the simulated pool (<c>busy_s</c> sums their compute time).</summary>
    [JsonPropertyName("workers")] public int Workers { get; init; } = 1;

    /// <summary>Whether tenants shared the batch slots; null with one tenant (the switch changes nothing then).</summary>
    [JsonPropertyName("fair_share")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? FairShare { get; init; }

    /// <summary>Latency per tenant, with <c>laps sim --tenants N</c> (N &gt; 1); null with one tenant.</summary>
    [JsonPropertyName("tenants")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<TenantResult>? Tenants { get; init; }

    /// <summary>Per-request latencies in seconds, in request order (for CDF plots; not serialised).</summary>
    [JsonIgnore] public double[] Latencies { get; init; } = [];
}

/// <summary>One tenant's requests in a run.</summary>
public sealed record TenantResult
{
    [JsonPropertyName("tenant")] public required string Tenant { get; init; }
    [JsonPropertyName("requests")] public required int Requests { get; init; }
    [JsonPropertyName("mean_latency_s")] public required double MeanLatencySeconds { get; init; }
    [JsonPropertyName("p99_latency_s")] public required double P99LatencySeconds { get; init; }
    [JsonPropertyName("mean_ttft_s")] public required double MeanTtftSeconds { get; init; }
}
