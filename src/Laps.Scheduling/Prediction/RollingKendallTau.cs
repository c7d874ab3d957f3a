namespace Laps.Scheduling.Prediction;

/// <summary>
/// The live quality of a length predictor: Kendall τ-b between the predicted and the true output lengths of the last
/// <see cref="Capacity"/> completed requests, for export as a metric. Feed it <c>(request.PredictedLength, true
/// length)</c> when a request completes. <see cref="Compute"/> is O(N log N) and allocates nothing. Not thread-safe.
/// </summary>
public sealed class RollingKendallTau
{
    private readonly double[] _predicted;
    private readonly double[] _truth;
    private readonly KendallTau.Pair[] _pairs;
    private readonly KendallTau.Pair[] _scratch;
    private int _next;

    public RollingKendallTau(int capacity = 1000)
    {
        if (capacity < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the window must hold at least two pairs");
        }

        Capacity = capacity;
        _predicted = new double[capacity];
        _truth = new double[capacity];
        _pairs = new KendallTau.Pair[capacity];
        _scratch = new KendallTau.Pair[capacity];
    }

    public int Capacity { get; }

    /// <summary>Pairs in the window (at most <see cref="Capacity"/>).</summary>
    public int Count { get; private set; }

    /// <summary>Adds one completion, evicting the oldest once the window is full.</summary>
    public void Add(double predicted, double truth)
    {
        if (double.IsNaN(predicted) || double.IsNaN(truth))
        {
            throw new ArgumentException("a predicted or true length is NaN");
        }

        _predicted[_next] = predicted;
        _truth[_next] = truth;
        _next = (_next + 1) % Capacity;
        Count = Math.Min(Count + 1, Capacity);
    }

    /// <summary>Kendall τ-b over the window; NaN with fewer than two pairs or when either side is all ties.</summary>
    public double Compute()
    {
        // Slots 0..Count-1 hold the window: before it wraps they are the only ones written, after it every slot is.
        for (var i = 0; i < Count; i++)
        {
            _pairs[i] = new KendallTau.Pair(_predicted[i], _truth[i]);
        }

        return KendallTau.TauB(_pairs.AsSpan(0, Count), _scratch);
    }

    public void Clear()
    {
        Count = 0;
        _next = 0;
    }
}
