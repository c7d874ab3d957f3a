namespace Laps.Simulation.Workloads;

/// <summary>
/// Random variates used by the synthetic workloads and the arrival processes. Every method draws only from the
/// <see cref="Random"/> it is given, so results are reproducible for a seed.
/// </summary>
public static class Distributions
{
    /// <summary>Standard normal variate (Box–Muller; one of the pair is discarded to keep the method stateless).</summary>
    public static double Gaussian(Random random) => Laps.Scheduling.Sampling.StandardNormal(random);

    /// <summary>Exponential variate with the given mean.</summary>
    public static double Exponential(Random random, double mean)
        => -mean * Math.Log(1.0 - random.NextDouble());

    /// <summary>
    /// Gamma variate with shape <paramref name="shape"/> and scale 1 (Marsaglia and Tsang 2000, "A simple method for
    /// generating gamma variables"); for shape &lt; 1 it draws Gamma(shape + 1) and multiplies by U^(1/shape).
    /// </summary>
    public static double Gamma(Random random, double shape)
    {
        if (!(shape > 0) || double.IsInfinity(shape))
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "gamma shape must be finite and > 0");
        }

        if (shape < 1)
        {
            // Boost: Gamma(a) = Gamma(a + 1) · U^(1/a), computed in logs so tiny shapes do not lose precision early.
            var boosted = Gamma(random, shape + 1);
            var u = 1.0 - random.NextDouble(); // (0, 1]
            return Math.Exp(Math.Log(boosted) + (Math.Log(u) / shape));
        }

        var d = shape - (1.0 / 3.0);
        var c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x;
            double v;
            do
            {
                x = Gaussian(random);
                v = 1.0 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            var u = 1.0 - random.NextDouble();
            var x2 = x * x;
            if (u < 1.0 - (0.0331 * x2 * x2))
            {
                return d * v;
            }

            if (Math.Log(u) < (0.5 * x2) + (d * (1.0 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }

    /// <summary>Beta(a, b) variate as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).</summary>
    public static double Beta(Random random, double a, double b)
    {
        var x = Gamma(random, a);
        var y = Gamma(random, b);
        var sum = x + y;
        return sum > 0 ? x / sum : a / (a + b);
    }

    /// <summary>
    /// Beta variate with the given mean and standard deviation (method of moments). A standard deviation of 0 returns
    /// the mean; one at or above the largest a Beta allows (√(mean·(1 − mean))) is shrunk to 99% of it.
    /// </summary>
    public static double BetaFromMoments(Random random, double mean, double sd)
    {
        if (!(mean > 0 && mean < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(mean), mean, "Beta mean must be in (0, 1)");
        }

        if (!(sd >= 0) || double.IsInfinity(sd))
        {
            throw new ArgumentOutOfRangeException(nameof(sd), sd, "Beta standard deviation must be finite and >= 0");
        }

        if (sd == 0)
        {
            return mean;
        }

        var maxVariance = mean * (1 - mean);
        var variance = Math.Min(sd * sd, 0.99 * maxVariance);
        var nu = (maxVariance / variance) - 1;
        return Beta(random, mean * nu, (1 - mean) * nu);
    }

    /// <summary>exp(N(mu, sigma²)).</summary>
    public static double LogNormal(Random random, double mu, double sigma)
        => Math.Exp(mu + (sigma * Gaussian(random)));
}
