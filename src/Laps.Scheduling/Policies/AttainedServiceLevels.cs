namespace Laps.Scheduling.Policies;

/// <summary>Maps a quantity of service (seconds) to a queue level by upper thresholds θ_0 &lt; θ_1 &lt; ….</summary>
internal sealed class AttainedServiceLevels
{
    private readonly double[] _upper;

    private AttainedServiceLevels(double[] upper) => _upper = upper;

    public int Count => _upper.Length + 1;

    /// <summary>Thresholds θ_j = θ_0 · r^j for the first <c>levels − 1</c> levels; the last level is unbounded.</summary>
    public static AttainedServiceLevels FromThresholds(int levels, double theta0, double ratio)
    {
        var upper = new double[levels - 1];
        for (var j = 0; j < upper.Length; j++)
        {
            upper[j] = theta0 * Math.Pow(ratio, j);
        }

        return new(upper);
    }

    /// <summary>Quanta q_j = q_0 · r^j used one after another: thresholds are their running sums.</summary>
    public static AttainedServiceLevels FromQuanta(int levels, double quantum0, double ratio)
    {
        var upper = new double[levels - 1];
        var sum = 0.0;
        for (var j = 0; j < upper.Length; j++)
        {
            sum += quantum0 * Math.Pow(ratio, j);
            upper[j] = sum;
        }

        return new(upper);
    }

    public int LevelOf(double service)
    {
        for (var j = 0; j < _upper.Length; j++)
        {
            if (service < _upper[j])
            {
                return j;
            }
        }

        return _upper.Length;
    }
}
