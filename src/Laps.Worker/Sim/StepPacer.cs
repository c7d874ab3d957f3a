namespace Laps.Worker.Sim;

/// <summary>
/// Answers: how long must the emulated GPU sleep for this step so that steps take their modelled time on average,
/// although the timer oversleeps? A timer fires late (about 1 ms on a quiet machine, several on a busy one), and a
/// worker that slept the full modelled time every step would run that much slower than the model it emulates; so the
/// time overslept is owed and taken off the next steps' sleeps. At most <c>maxOwed</c> is carried, so a long stall (a
/// paused process) does not let the worker run free for long afterwards. Not thread-safe: the service serializes steps.
/// </summary>
public sealed class StepPacer(TimeSpan maxOwed)
{
    private TimeSpan _owed;

    /// <summary>Time overslept and not yet made up.</summary>
    public TimeSpan Owed => _owed;

    /// <summary>The sleep for a step of <paramref name="modelled"/> wall time; what it cannot absorb stays owed.</summary>
    public TimeSpan SleepFor(TimeSpan modelled)
    {
        var sleep = modelled - _owed;
        if (sleep <= TimeSpan.Zero)
        {
            _owed = -sleep;
            return TimeSpan.Zero;
        }

        _owed = TimeSpan.Zero;
        return sleep;
    }

    /// <summary>A sleep of <paramref name="requested"/> took <paramref name="actual"/>: the excess is owed.</summary>
    public void Slept(TimeSpan requested, TimeSpan actual)
    {
        if (actual > requested)
        {
            _owed += actual - requested;
        }

        if (_owed > maxOwed)
        {
            _owed = maxOwed;
        }
    }
}
