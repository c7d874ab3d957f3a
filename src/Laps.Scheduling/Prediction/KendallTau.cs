namespace Laps.Scheduling.Prediction;

/// <summary>
/// Kendall's rank correlation τ-b between two paired samples, in O(n log n) (Knight's algorithm): sort the pairs by
/// (x, y), count ties, then count the discordant pairs as the swaps a merge sort by y makes. Ties in either sample
/// are corrected for (τ-b), so a constant prediction scores 0 rather than an undefined or inflated value.
/// </summary>
public static class KendallTau
{
    /// <summary>τ-b of the pairs (x[i], y[i]); NaN when there are fewer than two pairs or either sample is all ties.</summary>
    public static double TauB(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"the samples differ in length: {x.Length} and {y.Length}", nameof(y));
        }

        var pairs = new Pair[x.Length];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = new Pair(x[i], y[i]);
        }

        return TauB(pairs, new Pair[pairs.Length]);
    }

    /// <summary>τ-b of <paramref name="pairs"/>, which it reorders; <paramref name="scratch"/> is at least as long.</summary>
    internal static double TauB(Span<Pair> pairs, Span<Pair> scratch)
    {
        var n = pairs.Length;
        if (n < 2)
        {
            return double.NaN;
        }

        foreach (var p in pairs)
        {
            if (double.IsNaN(p.X) || double.IsNaN(p.Y))
            {
                throw new ArgumentException("Kendall tau of a sample holding NaN is undefined");
            }
        }

        pairs.Sort(static (a, b) => a.X != b.X ? a.X.CompareTo(b.X) : a.Y.CompareTo(b.Y));

        // Pairs tied in x (n1), and tied in both x and y (n3).
        long tiedX = 0, tiedBoth = 0;
        int runX = 1, runXY = 1;
        for (var i = 1; i < n; i++)
        {
            if (pairs[i].X == pairs[i - 1].X)
            {
                runX++;
                runXY = pairs[i].Y == pairs[i - 1].Y ? runXY + 1 : CloseRun(ref tiedBoth, runXY);
            }
            else
            {
                CloseRun(ref tiedX, runX);
                CloseRun(ref tiedBoth, runXY);
                runX = 1;
                runXY = 1;
            }
        }

        CloseRun(ref tiedX, runX);
        CloseRun(ref tiedBoth, runXY);

        // Pairs in strictly opposite order: the inversions of y in this order.
        var swaps = MergeSortCountingInversions(pairs, scratch[..n]);

        // Pairs tied in y (n2).
        long tiedY = 0;
        var runY = 1;
        for (var i = 1; i < n; i++)
        {
            if (pairs[i].Y == pairs[i - 1].Y)
            {
                runY++;
            }
            else
            {
                CloseRun(ref tiedY, runY);
                runY = 1;
            }
        }

        CloseRun(ref tiedY, runY);

        var all = (long)n * (n - 1) / 2;
        var denominator = Math.Sqrt((double)(all - tiedX) * (all - tiedY));
        if (denominator == 0)
        {
            return double.NaN;
        }

        // concordant − discordant = n0 − n1 − n2 + n3 − 2·swaps.
        return (all - tiedX - tiedY + tiedBoth - (2 * swaps)) / denominator;
    }

    private static int CloseRun(ref long ties, int run)
    {
        ties += (long)run * (run - 1) / 2;
        return 1;
    }

    /// <summary>Stable bottom-up merge sort by y; returns the number of pairs (i &lt; j) with y[i] &gt; y[j].</summary>
    private static long MergeSortCountingInversions(Span<Pair> data, Span<Pair> scratch)
    {
        long inversions = 0;
        var n = data.Length;
        var source = data;
        var target = scratch;
        for (var width = 1; width < n; width *= 2)
        {
            for (var lo = 0; lo < n; lo += 2 * width)
            {
                var mid = Math.Min(lo + width, n);
                var hi = Math.Min(lo + (2 * width), n);
                int i = lo, j = mid, k = lo;
                while (i < mid && j < hi)
                {
                    if (source[i].Y <= source[j].Y)
                    {
                        target[k++] = source[i++];
                    }
                    else
                    {
                        // Every element left in the left run is strictly greater than this one.
                        inversions += mid - i;
                        target[k++] = source[j++];
                    }
                }

                while (i < mid)
                {
                    target[k++] = source[i++];
                }

                while (j < hi)
                {
                    target[k++] = source[j++];
                }
            }

            var swap = source;
            source = target;
            target = swap;
        }

        if (source != data)
        {
            source.CopyTo(data);
        }

        return inversions;
    }

    internal readonly record struct Pair(double X, double Y);
}
