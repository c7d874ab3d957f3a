namespace Laps.Scheduler.Serving;

/// <summary>
/// Whether a worker answers, how long to wait for it and how long to back off. A Step's deadline follows the
/// worker's own recent step time (<see cref="DeadlineFactor"/> times its moving average, within
/// [<see cref="SchedulerOptions.MinStepTimeout"/>, <see cref="SchedulerOptions.StepTimeout"/>]), so a hung worker
/// whose steps take milliseconds is found in about a second, not after the longest deadline. Not thread-safe: its
/// loop owns it.
/// </summary>
internal sealed class WorkerHealth(SchedulerOptions options)
{
    /// <summary>A step may take this many times the worker's recent average before it counts as hung.</summary>
    public const double DeadlineFactor = 20;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private double? _averageStepSeconds;

    /// <summary>Calls that failed in a row (0 after a success).</summary>
    public int Failures { get; private set; }

    /// <summary>
    /// The worker is an engine adapter (a preempted sequence recomputes its prefix): a Step that resubmits sequences
    /// waits for the engine's own queue and re-prefills, so its time does not follow the recent steps; the adapter bounds
    /// each Step itself and reports a dead engine as unavailable, so only the longest deadline applies (twice
    /// <see cref="SchedulerOptions.StepTimeout"/>, past the adapter's own).
    /// </summary>
    public bool SelfBounded { get; set; }

    /// <summary>The deadline of the next Step.</summary>
    public TimeSpan StepTimeout => SelfBounded
        ? options.StepTimeout * 2
        : _averageStepSeconds is double average
            ? TimeSpan.FromSeconds(Math.Clamp(average * DeadlineFactor, options.MinStepTimeout.TotalSeconds, options.StepTimeout.TotalSeconds))
            : options.StepTimeout;

    /// <summary>The deadline of Describe probes and Release calls (cheap calls on a worker that may be down).</summary>
    public TimeSpan CallTimeout => options.MinStepTimeout;

    /// <summary>The wait before the next attempt after <see cref="Failures"/> failures: doubling, up to 5 s.</summary>
    public TimeSpan Backoff => TimeSpan.FromMilliseconds(
        Math.Min(MaxBackoff.TotalMilliseconds, options.RetryBackoff.TotalMilliseconds * Math.Pow(2, Math.Clamp(Failures - 1, 0, 16))));

    public void Answered() => Failures = 0;

    public void StepSucceeded(double seconds)
    {
        Failures = 0;
        _averageStepSeconds = _averageStepSeconds is double average ? (0.8 * average) + (0.2 * seconds) : seconds;
    }

    public void Failed() => Failures++;
}
