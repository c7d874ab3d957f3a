using Prometheus;

namespace Laps.Operator.Hosting;

/// <summary>The operator's Prometheus metrics (docs/monitoring.md), from an injected factory so each test owns its registry.</summary>
public sealed class OperatorMetrics
{
    /// <summary>
    /// Bounds of the reconcile duration, 5 ms to 60 s: 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 per decade, so neighbouring
    /// bounds are at most a third apart and histogram_quantile, which interpolates within a bucket, reads a duration
    /// at most a third high. (Doubling bounds read one 2.5 s reconcile as a p99 of 4 s.)
    /// </summary>
    public static IReadOnlyList<double> ReconcileBuckets { get; } =
    [
        0.005, 0.006, 0.008,
        0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08,
        0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8,
        1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
        10, 12.5, 15, 20, 25, 30, 40, 50, 60,
    ];

    public OperatorMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ReconcileTotal = factory.CreateCounter(
            "laps_operator_reconcile_total", "Reconciles of InferencePools, by result (success, error, requeue).",
            new CounterConfiguration { LabelNames = ["result"] });
        ReconcileErrors = factory.CreateCounter("laps_operator_reconcile_errors_total", "Reconciles that failed and were requeued with backoff.");
        ReconcileRecovered = factory.CreateCounter(
            "laps_operator_reconcile_recovered_total", "Pools whose reconcile failed and then succeeded on a retry (once per run of failures).");
        ReconcileDuration = factory.CreateHistogram(
            "laps_operator_reconcile_duration_seconds", "Time one reconcile took: its own work, not its wait in the queue or its backoff.",
            new HistogramConfiguration { Buckets = [.. ReconcileBuckets] });
        Leader = factory.CreateGauge("laps_operator_leader", "1 while this instance holds the operator's Lease.");
        WorkQueueDepth = factory.CreateGauge("laps_operator_workqueue_depth", "Pool keys waiting to be reconciled.");
        foreach (var result in new[] { "success", "error", "requeue" })
        {
            ReconcileTotal.WithLabels(result);
        }
    }

    public Counter ReconcileTotal { get; }

    public Counter ReconcileErrors { get; }

    public Counter ReconcileRecovered { get; }

    public Histogram ReconcileDuration { get; }

    public Gauge Leader { get; }

    public Gauge WorkQueueDepth { get; }
}
