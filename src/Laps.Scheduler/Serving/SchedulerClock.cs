namespace Laps.Scheduler.Serving;

/// <summary>The sidecar's time line in seconds since it started, as the scheduling core takes time (a value).</summary>
public sealed class SchedulerClock(TimeProvider timeProvider)
{
    private readonly long _start = timeProvider.GetTimestamp();

    public TimeProvider TimeProvider { get; } = timeProvider;

    public double Now => TimeProvider.GetElapsedTime(_start).TotalSeconds;
}
