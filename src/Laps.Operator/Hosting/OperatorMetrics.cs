using Prometheus;

namespace Laps.Operator.Hosting;

/// <summary>The operator's Prometheus metrics (docs/inferencepool.md, "The operator"), from an injected factory so each test owns its registry.</summary>
public sealed class OperatorMetrics
{
    public OperatorMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ReconcileTotal = factory.CreateCounter(
            "laps_operator_reconcile_total", "Reconciles of InferencePools, by result (success, error, requeue).",
            new CounterConfiguration { LabelNames = ["result"] });
        ReconcileErrors = factory.CreateCounter("laps_operator_reconcile_errors_total", "Reconciles that failed and were requeued with backoff.");
        ReconcileDuration = factory.CreateHistogram(
            "laps_operator_reconcile_duration_seconds", "Time one reconcile took.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        Leader = factory.CreateGauge("laps_operator_leader", "1 while this instance holds the operator's Lease.");
        WorkQueueDepth = factory.CreateGauge("laps_operator_workqueue_depth", "Pool keys waiting to be reconciled.");
        foreach (var result in new[] { "success", "error", "requeue" })
        {
            ReconcileTotal.WithLabels(result);
        }
    }

    public Counter ReconcileTotal { get; }

    public Counter ReconcileErrors { get; }

    public Histogram ReconcileDuration { get; }

    public Gauge Leader { get; }

    public Gauge WorkQueueDepth { get; }
}
