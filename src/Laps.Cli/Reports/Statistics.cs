namespace Laps.Cli.Reports;

/// <summary>A mean and the half-width of its confidence interval (NaN with fewer than two samples).</summary>
internal readonly record struct MeanInterval(double Mean, double HalfWidth, int Count)
{
    public double Lower => Mean - HalfWidth;
    public double Upper => Mean + HalfWidth;
}

internal static class Statistics
{
    // Two-sided 95% quantiles t(0.975; df) of Student's t for df = 1..30.
    private static readonly double[] T975 =
    [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
        2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
        2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
    ];

    public static double Mean(IReadOnlyCollection<double> values)
        => values.Count == 0 ? double.NaN : values.Sum() / values.Count;

    /// <summary>Sample standard deviation (n − 1 in the denominator); NaN below two values.</summary>
    public static double StandardDeviation(IReadOnlyCollection<double> values)
    {
        if (values.Count < 2)
        {
            return double.NaN;
        }

        var mean = Mean(values);
        var squares = values.Sum(v => (v - mean) * (v - mean));
        return Math.Sqrt(squares / (values.Count - 1));
    }

    /// <summary>Student-t quantile t(0.975; df), the multiplier of a two-sided 95% interval.</summary>
    public static double StudentT975(int degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degreesOfFreedom, 1);
        if (degreesOfFreedom <= T975.Length)
        {
            return T975[degreesOfFreedom - 1];
        }

        // Cornish–Fisher expansion around the normal quantile; within 1e-6 of the exact value beyond df = 30.
        const double z = 1.959963984540054;
        double n = degreesOfFreedom;
        double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, z9 = z7 * z * z;
        return z + ((z3 + z) / (4 * n)) + (((5 * z5) + (16 * z3) + (3 * z)) / (96 * n * n))
               + (((3 * z7) + (19 * z5) + (17 * z3) - (15 * z)) / (384 * n * n * n))
               + (((79 * z9) + (776 * z7) + (1482 * z5) - (1920 * z3) - (945 * z)) / (92160 * n * n * n * n));
    }

    /// <summary>The mean of <paramref name="values"/> with a 95% Student-t confidence interval.</summary>
    public static MeanInterval MeanWithConfidence95(IReadOnlyCollection<double> values)
    {
        var mean = Mean(values);
        if (values.Count < 2)
        {
            return new MeanInterval(mean, double.NaN, values.Count);
        }

        var halfWidth = StudentT975(values.Count - 1) * StandardDeviation(values) / Math.Sqrt(values.Count);
        return new MeanInterval(mean, halfWidth, values.Count);
    }
}
