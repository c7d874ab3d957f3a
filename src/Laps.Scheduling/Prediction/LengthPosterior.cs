namespace Laps.Scheduling.Prediction;

/// <summary>
/// What the length prediction is worth, learned from completed requests. Two empirical distributions of L given a
/// prediction p: the true lengths of the completed requests whose predictions were nearest to p
/// (<see cref="Neighbourhood"/>), or p times every completion's true/predicted ratio (<see cref="ScaledByRatios"/>).
/// Conditioning either on the tokens already generated gives a remaining-length estimate that grows when a request
/// outlives its prediction (instead of flooring at one token, as SRPT on the raw prediction does), and a Gittins
/// index. Deterministic; not thread-safe.
/// </summary>
public sealed class LengthPosterior
{
    private readonly int _capacity;
    private readonly int _neighbours;
    private readonly int _minObservations;
    private readonly double[] _logPredicted;
    private readonly int[] _trueLength;
    private int _count;
    private int _next;
    private int _sinceSnapshot;

    // Snapshot: observations sorted by log prediction.
    private double[] _sortedLogPredicted = [];
    private int[] _sortedTrue = [];

    // Snapshot: ln(true / predicted) of every observation, sorted.
    private double[] _sortedLogRatio = [];

    public LengthPosterior(int capacity = 2048, int neighbours = 64, int minObservations = 32)
    {
        if (capacity < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "posterior capacity must be >= 2");
        }

        if (neighbours < 1 || neighbours > capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(neighbours), neighbours, "posterior neighbours must be in 1..capacity");
        }

        // At least a neighbourhood, and never more than the posterior can hold (else it would never be ready).
        minObservations = Math.Clamp(minObservations, neighbours, capacity);

        _capacity = capacity;
        _neighbours = neighbours;
        _minObservations = minObservations;
        _logPredicted = new double[capacity];
        _trueLength = new int[capacity];
    }

    /// <summary>Bumps whenever the snapshot changes, so callers can cache what they derived from it.</summary>
    public int Version { get; private set; }

    public bool Ready => _sortedTrue.Length >= _minObservations;

    public void Observe(double predicted, int trueLength)
    {
        _logPredicted[_next] = Math.Log(Math.Max(predicted, 1));
        _trueLength[_next] = Math.Max(trueLength, 1);
        _next = (_next + 1) % _capacity;
        _count = Math.Min(_count + 1, _capacity);
        _sinceSnapshot++;

        // Rebuild while young, then every neighbours/2 completions: O(n log n) amortised over many.
        if (_count >= _minObservations && (_sortedTrue.Length < _minObservations || _sinceSnapshot >= Math.Max(_neighbours / 2, 1)))
        {
            Snapshot();
        }
    }

    /// <summary>The sorted true lengths of the completions whose predictions were nearest to <paramref name="predicted"/>.</summary>
    public int[] Neighbourhood(double predicted)
    {
        if (!Ready)
        {
            throw new InvalidOperationException("the length posterior has too few observations");
        }

        var x = Math.Log(Math.Max(predicted, 1));
        var n = _sortedLogPredicted.Length;
        var hi = Array.BinarySearch(_sortedLogPredicted, x);
        if (hi < 0)
        {
            hi = ~hi;
        }

        var lo = hi - 1;
        var result = new int[_neighbours];
        for (var taken = 0; taken < _neighbours; taken++)
        {
            // Two-pointer walk outward from x, nearest first.
            if (lo < 0 || (hi < n && _sortedLogPredicted[hi] - x <= x - _sortedLogPredicted[lo]))
            {
                result[taken] = _sortedTrue[hi++];
            }
            else
            {
                result[taken] = _sortedTrue[lo--];
            }
        }

        Array.Sort(result);
        return result;
    }

    /// <summary>
    /// The prediction scaled by the error ratios of every completion (<c>L̂ · true/predicted</c>, at evenly spaced
    /// quantiles, sorted): uses all observations, assumes the error does not depend on the prediction.
    /// </summary>
    public int[] ScaledByRatios(double predicted)
    {
        if (!Ready)
        {
            throw new InvalidOperationException("the length posterior has too few observations");
        }

        var n = _sortedLogRatio.Length;
        var result = new int[_neighbours];
        for (var j = 0; j < result.Length; j++)
        {
            var q = _sortedLogRatio[(int)((j + 0.5) * n / result.Length)];
            result[j] = (int)Math.Max(1, Math.Round(Math.Max(predicted, 1) * Math.Exp(q)));
        }

        return result;
    }

    /// <summary>E[L − g | L &gt; g] over a sorted sample; when g is past every sample, assume it runs as long again.</summary>
    public static double ExpectedRemaining(int[] sortedLengths, int generated)
    {
        var start = FirstAbove(sortedLengths, generated);
        if (start == sortedLengths.Length)
        {
            return Math.Max(generated, 1);
        }

        var sum = 0.0;
        for (var i = start; i < sortedLengths.Length; i++)
        {
            sum += sortedLengths[i] - generated;
        }

        return sum / (sortedLengths.Length - start);
    }

    /// <summary>
    /// Gittins rank in tokens: min over quanta Δ of E[min(L − g, Δ)] / P(L − g ≤ Δ), given L &gt; g. Serving the
    /// smallest rank first minimises mean response time in an M/G/1 queue with known size distribution.
    /// </summary>
    public static double GittinsRank(int[] sortedLengths, int generated)
    {
        var start = FirstAbove(sortedLengths, generated);
        var m = sortedLengths.Length - start;
        if (m == 0)
        {
            return Math.Max(generated, 1);
        }

        // Exact integer arithmetic: candidates are compared as fractions num/served without dividing in the loop.
        long bestNum = 0, bestDen = 0, prefix = 0;
        for (var t = start; t < sortedLengths.Length; t++)
        {
            long delta = sortedLengths[t] - generated;
            prefix += delta;
            long served = t - start + 1;
            var num = prefix + ((sortedLengths.Length - 1 - t) * delta);
            if (bestDen == 0 || num * bestDen < bestNum * served)
            {
                bestNum = num;
                bestDen = served;
            }
        }

        return (double)bestNum / bestDen;
    }

    private static int FirstAbove(int[] sorted, int value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private void Snapshot()
    {
        var keys = _logPredicted.AsSpan(0, _count).ToArray();
        var values = _trueLength.AsSpan(0, _count).ToArray();
        Array.Sort(keys, values);
        _sortedLogPredicted = keys;
        _sortedTrue = values;
        var ratios = new double[_count];
        for (var i = 0; i < ratios.Length; i++)
        {
            ratios[i] = Math.Log(values[i]) - keys[i];
        }

        Array.Sort(ratios);
        _sortedLogRatio = ratios;
        _sinceSnapshot = 0;
        Version++;
    }
}
