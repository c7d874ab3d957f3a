namespace Laps.Scheduling.Acceptance;

/// <summary>
/// Tracks a request's cumulative acceptance rate (accepted drafts / drafted tokens) and answers whether it is
/// stable: over the last <c>window</c> steps the cumulative rate moved by less than a tolerance.
/// </summary>
public sealed class AcceptanceTracker
{
    /// <summary>The longest stability window the tracker remembers.</summary>
    public const int MaxWindow = 63;

    // Cumulative rate after each of the last MaxWindow+1 steps, as a ring.
    private readonly double[] _history = new double[MaxWindow + 1];
    private int _head;

    public int Steps { get; private set; }
    public long Drafted { get; private set; }
    public long Accepted { get; private set; }

    /// <summary>Cumulative observed acceptance; <paramref name="prior"/> before anything was drafted.</summary>
    public double Rate(double prior) => Drafted == 0 ? prior : (double)Accepted / Drafted;

    /// <summary>
    /// The cumulative rate shrunk towards <paramref name="prior"/> as if <paramref name="priorDrafts"/> drafts had
    /// been seen at the prior: early steps (0 or k accepted) then move the estimate less.
    /// </summary>
    public double Rate(double prior, double priorDrafts)
        => priorDrafts <= 0 ? Rate(prior) : (Accepted + (prior * priorDrafts)) / (Drafted + priorDrafts);

    public void Record(int drafted, int accepted)
    {
        Drafted += drafted;
        Accepted += accepted;
        Steps++;
        _history[_head] = Drafted == 0 ? 0 : (double)Accepted / Drafted;
        _head = (_head + 1) % _history.Length;
    }

    /// <summary>
    /// The stability test: at least <paramref name="minSteps"/> steps, and the cumulative rate moved by less than
    /// <paramref name="tolerance"/> over the last <paramref name="window"/> steps. Tolerance 0 is never stable;
    /// +∞ is stable as soon as <paramref name="minSteps"/> steps were taken.
    /// </summary>
    public bool IsStable(int window, double tolerance, int minSteps)
    {
        if (window is < 1 or > MaxWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, $"stability window must be in 1..{MaxWindow} steps");
        }

        if (double.IsPositiveInfinity(tolerance))
        {
            return Steps >= minSteps;
        }

        if (Steps < minSteps || Steps <= window)
        {
            return false;
        }

        var newest = _history[(_head + _history.Length - 1) % _history.Length];
        var oldest = _history[(_head + _history.Length - 1 - window) % _history.Length];
        return Math.Abs(newest - oldest) < tolerance;
    }
}
