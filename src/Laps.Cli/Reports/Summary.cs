using Laps.Scheduling.Policies;
using Laps.Simulation.Experiments;

namespace Laps.Cli.Reports;

/// <summary>One (batch, load, policy) of a study, aggregated across its seeds.</summary>
internal sealed record SummaryRow
{
    public required int Batch { get; init; }
    public required double Load { get; init; }
    public required string Policy { get; init; }
    public required int Seeds { get; init; }
    public required MeanInterval MeanLatency { get; init; }
    public required double P50Latency { get; init; }
    public required double P99Latency { get; init; }
    public required double MeanTtft { get; init; }
    public required double PreemptionsPerRequest { get; init; }

    /// <summary>Mean over the seeds that have an estimate; null when none has.</summary>
    public required double? EstimateMape { get; init; }

    /// <summary>Mean latency over FCFS's at the same (batch, load); null when FCFS did not run.</summary>
    public double? VersusFcfs { get; init; }

    /// <summary>Mean latency over the best non-oracle baseline's at the same (batch, load).</summary>
    public double? VersusBestBaseline { get; init; }

    public string? BestBaseline { get; init; }
}

internal static class Summary
{
    /// <summary>The policies LAPS-SD is measured against: everything but itself and the oracle.</summary>
    public static IReadOnlyList<string> Baselines { get; } =
        [FcfsPolicy.PolicyName, MlfqPolicy.PolicyName, LasPolicy.PolicyName, SjfPolicy.PolicyName, SrptPolicy.PolicyName];

    /// <summary>
    /// Rows by batch, then load, then policy in the order the results first name them. Percentiles are the mean of
    /// the seeds' percentiles; the latency interval is across seeds (each seed one sample).
    /// </summary>
    public static IReadOnlyList<SummaryRow> Aggregate(IReadOnlyList<RunResult> results)
    {
        var policyOrder = results.Select(r => r.Policy).Distinct(StringComparer.Ordinal)
            .Select((policy, index) => (policy, index))
            .ToDictionary(p => p.policy, p => p.index, StringComparer.Ordinal);

        var rows = results
            .GroupBy(r => (r.Batch, r.Load, r.Policy))
            .Select(g => Row(g.Key.Batch, g.Key.Load, g.Key.Policy, [.. g]))
            .OrderBy(r => r.Batch).ThenBy(r => r.Load).ThenBy(r => policyOrder[r.Policy])
            .ToList();

        return [.. rows.GroupBy(r => (r.Batch, r.Load)).SelectMany(WithRatios)];
    }

    private static SummaryRow Row(int batch, double load, string policy, RunResult[] runs)
    {
        var mapes = runs.Where(r => r.EstimateMape.HasValue).Select(r => r.EstimateMape!.Value).ToArray();
        return new SummaryRow
        {
            Batch = batch,
            Load = load,
            Policy = policy,
            Seeds = runs.Length,
            MeanLatency = Statistics.MeanWithConfidence95([.. runs.Select(r => r.MeanLatencySeconds)]),
            P50Latency = Statistics.Mean([.. runs.Select(r => r.P50LatencySeconds)]),
            P99Latency = Statistics.Mean([.. runs.Select(r => r.P99LatencySeconds)]),
            MeanTtft = Statistics.Mean([.. runs.Select(r => r.MeanTtftSeconds)]),
            PreemptionsPerRequest = Statistics.Mean([.. runs.Select(r => r.PreemptionsPerRequest)]),
            EstimateMape = mapes.Length == 0 ? null : Statistics.Mean(mapes),
        };
    }

    private static IEnumerable<SummaryRow> WithRatios(IEnumerable<SummaryRow> sameBatchAndLoad)
    {
        var rows = sameBatchAndLoad.ToList();
        var fcfs = rows.FirstOrDefault(r => r.Policy == FcfsPolicy.PolicyName);
        var best = rows.Where(r => Baselines.Contains(r.Policy, StringComparer.Ordinal))
            .OrderBy(r => r.MeanLatency.Mean)
            .FirstOrDefault();
        return rows.Select(r => r with
        {
            VersusFcfs = fcfs is null ? null : r.MeanLatency.Mean / fcfs.MeanLatency.Mean,
            VersusBestBaseline = best is null ? null : r.MeanLatency.Mean / best.MeanLatency.Mean,
            BestBaseline = best?.Policy,
        });
    }
}
