using Prometheus;

namespace Laps.Scheduler.Observability;

/// <summary>
/// The sidecar's Prometheus metrics (their list is in docs/scheduler-sidecar.md). Created from an injected <see cref="IMetricFactory"/>, so each
/// host (and each test) owns its registry. Labels are bounded: the configured worker addresses and fixed reasons.
/// </summary>
public sealed class SchedulerMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.005, 2, 16); // 5 ms .. ~164 s
    private static readonly double[] RatioBuckets = Histogram.LinearBuckets(0.1, 0.1, 10);
    private static readonly double[] ErrorBuckets = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

    public SchedulerMetrics(IMetricFactory factory)
    {
        RequestDuration = factory.CreateHistogram(
            "laps_request_duration_seconds", "Seconds from a request's arrival to its last token.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        TimeToFirstToken = factory.CreateHistogram(
            "laps_time_to_first_token_seconds", "Seconds from a request's arrival to its first token.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        QueueWait = factory.CreateHistogram(
            "laps_queue_wait_seconds", "Seconds from a request's arrival to its first batch slot.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        Queued = factory.CreateGauge(
            "laps_requests_queued", "Admitted requests waiting for a batch slot in the pool's queue, by the policy's queue level (0 = highest priority).",
            new GaugeConfiguration { LabelNames = ["level"] });
        Running = factory.CreateGauge(
            "laps_requests_running", "Requests in the batch of the current step.", new GaugeConfiguration { LabelNames = ["worker"] });
        WorkerReady = factory.CreateGauge(
            "laps_worker_ready", "1 when the worker answered its last call (Describe or Step), 0 while it is down or not yet described.",
            new GaugeConfiguration { LabelNames = ["worker"] });
        Perceptible = factory.CreateGauge(
            "laps_perceptible_requests", "Admitted requests whose acceptance rate is stable (LAPS-SD perceptible).");
        Preemptions = factory.CreateCounter(
            "laps_preemptions_total", "Requests that ran in one step and lost their slot in the next.",
            new CounterConfiguration { LabelNames = ["worker"] });
        DraftedTokens = factory.CreateCounter(
            "laps_drafted_tokens_total", "Tokens drafted by the speculative model, as workers reported them.",
            new CounterConfiguration { LabelNames = ["worker"] });
        AcceptedTokens = factory.CreateCounter(
            "laps_accepted_tokens_total", "Drafted tokens the target model accepted, as workers reported them.",
            new CounterConfiguration { LabelNames = ["worker"] });
        GeneratedTokens = factory.CreateCounter(
            "laps_generated_tokens_total", "Tokens emitted to clients (accepted drafts plus each step's own token), as workers reported them.",
            new CounterConfiguration { LabelNames = ["worker"] });
        RequestAcceptance = factory.CreateHistogram(
            "laps_request_acceptance_ratio", "Per finished request, accepted over drafted tokens.",
            new HistogramConfiguration { Buckets = RatioBuckets });
        EstimateError = factory.CreateHistogram(
            "laps_execution_time_estimate_relative_error_ratio",
            "Per finished request with an estimate, |estimated - actual| / actual of its execution time from when it became perceptible.",
            new HistogramConfiguration { Buckets = ErrorBuckets });
        StepDuration = factory.CreateHistogram(
            "laps_worker_step_duration_seconds", "Seconds of one Step call on a worker, round trip.",
            new HistogramConfiguration { LabelNames = ["worker"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
        PredictionKendallTau = factory.CreateGauge(
            "laps_length_prediction_kendall_tau", "Kendall tau-b of predicted against true output length over the last 1000 finished requests.");
        Migrated = factory.CreateCounter(
            "laps_migrated_requests_total", "Steps in which a request ran on another worker than its previous step's (its prefix recomputed there).");
        StepFailures = factory.CreateCounter(
            "laps_worker_step_failures_total", "Step calls that failed (unreachable, deadline, refused); their requests resume, on another worker when one is ready.",
            new CounterConfiguration { LabelNames = ["worker"] });
        SequenceErrors = factory.CreateCounter(
            "laps_worker_sequence_errors_total", "Sequences an engine failed alone (an error chunk, a malformed stream); each resumes from its prefix.",
            new CounterConfiguration { LabelNames = ["worker"] });
        Cancelled = factory.CreateCounter(
            "laps_cancelled_requests_total", "Admitted requests whose client went away before the last token.");
        Rejected = factory.CreateCounter(
            "laps_rejected_requests_total", "Requests answered with an error before or instead of being served, by reason.",
            new CounterConfiguration { LabelNames = ["reason"] });
        foreach (var reason in RejectReason.All)
        {
            Rejected.WithLabels(reason).Inc(0);
        }

        TenantRequests = factory.CreateCounter(
            "laps_tenant_requests_total",
            "Requests at the front door by tenant and outcome: admitted, or the reason they were refused (unauthorized: no or a wrong API key, counted under the tenant 'unknown').",
            new CounterConfiguration { LabelNames = ["tenant", "outcome"] });
    }

    public Histogram RequestDuration { get; }
    public Histogram TimeToFirstToken { get; }
    public Histogram QueueWait { get; }
    public Gauge Queued { get; }
    public Gauge PredictionKendallTau { get; }
    public Counter Migrated { get; }
    public Counter StepFailures { get; }
    public Counter SequenceErrors { get; }
    public Counter Cancelled { get; }
    public Gauge Running { get; }
    public Gauge WorkerReady { get; }
    public Gauge Perceptible { get; }
    public Counter Preemptions { get; }
    public Counter DraftedTokens { get; }
    public Counter AcceptedTokens { get; }
    public Counter GeneratedTokens { get; }
    public Histogram RequestAcceptance { get; }
    public Histogram EstimateError { get; }
    public Histogram StepDuration { get; }
    public Counter Rejected { get; }

    /// <summary>Requests by tenant and outcome; tenants come from <see cref="TenantLabels"/>, so the series are bounded.</summary>
    public Counter TenantRequests { get; }

}

/// <summary>Values of the <c>reason</c> label of <c>laps_rejected_requests_total</c>.</summary>
public static class RejectReason
{
    public const string InvalidRequest = "invalid_request";
    public const string UnknownModel = "unknown_model";
    public const string PromptTooLong = "prompt_too_long";
    public const string QueueFull = "queue_full";
    public const string ShuttingDown = "shutting_down";
    public const string WorkerError = "worker_error";
    public const string NoWorkers = "no_workers";
    public const string ContextTooLong = "context_length_exceeded";
    public const string InternalError = "internal_error";
    public const string TenantQueueFull = "tenant_queue_full";
    public const string Unauthorized = "unauthorized";

    /// <summary>Every reason, so each has a sample from the first scrape.</summary>
    public static readonly string[] All =
        [InvalidRequest, UnknownModel, PromptTooLong, QueueFull, ShuttingDown, WorkerError, NoWorkers, ContextTooLong, InternalError, TenantQueueFull, Unauthorized];
}

/// <summary>Values of the <c>level</c> label of <c>laps_requests_queued</c>, made once (policies have at most 64 levels).</summary>
internal static class LevelLabels
{
    private static readonly string[] Cached = [.. Enumerable.Range(0, 64).Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    public static string For(int level) => level < Cached.Length ? Cached[level] : level.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
