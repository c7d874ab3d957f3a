using Laps.Simulation.Workloads;

namespace Laps.Simulation.Arrivals;

/// <summary>An open-loop arrival process: request arrival times at a target mean rate.</summary>
public interface IArrivalProcess
{
    /// <summary>Short description for reports (e.g. <c>poisson</c>, <c>gamma:2</c>, the CSV path).</summary>
    string Name { get; }

    /// <summary>Coefficient of variation of the inter-arrival gaps: 1 for Poisson, the CV for Gamma, measured for a trace.</summary>
    double InterArrivalCv { get; }

    /// <summary>
    /// <paramref name="n"/> non-decreasing arrival times in seconds, the first at 0, with mean inter-arrival gap
    /// 1 / <paramref name="ratePerSecond"/>. Deterministic for a given <paramref name="random"/> state.
    /// </summary>
    double[] Generate(int n, double ratePerSecond, Random random);
}

/// <summary>Poisson arrivals: exponential gaps.</summary>
public sealed class PoissonArrivals : IArrivalProcess
{
    public static PoissonArrivals Instance { get; } = new();

    public string Name => "poisson";

    public double InterArrivalCv => 1.0;

    public double[] Generate(int n, double ratePerSecond, Random random)
    {
        ArrivalChecks.Validate(n, ratePerSecond, random);
        var times = new double[n];
        var mean = 1.0 / ratePerSecond;
        for (var i = 1; i < n; i++)
        {
            times[i] = times[i - 1] + Distributions.Exponential(random, mean);
        }

        return times;
    }
}

/// <summary>
/// A Gamma renewal process: gaps ~ Gamma(shape 1/CV², mean 1/rate), so the gaps' coefficient of variation is
/// <see cref="Cv"/> (1 is Poisson; 2 and 4 are bursty).
/// </summary>
public sealed class GammaArrivals : IArrivalProcess
{
    public GammaArrivals(double cv)
    {
        if (!(cv > 0) || !double.IsFinite(cv))
        {
            throw new ArgumentOutOfRangeException(nameof(cv), cv, "the coefficient of variation must be finite and > 0");
        }

        Cv = cv;
        Shape = 1.0 / (cv * cv);
    }

    public double Cv { get; }

    double IArrivalProcess.InterArrivalCv => Cv;

    /// <summary>Gamma shape k = 1/CV².</summary>
    public double Shape { get; }

    public string Name => "gamma:" + Cv.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    public double[] Generate(int n, double ratePerSecond, Random random)
    {
        ArrivalChecks.Validate(n, ratePerSecond, random);
        var times = new double[n];
        var scale = 1.0 / (ratePerSecond * Shape); // mean = shape · scale = 1 / rate
        for (var i = 1; i < n; i++)
        {
            times[i] = times[i - 1] + (scale * Distributions.Gamma(random, Shape));
        }

        return times;
    }
}

internal static class ArrivalChecks
{
    public static void Validate(int n, double ratePerSecond, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentNullException.ThrowIfNull(random);
        if (!(ratePerSecond > 0) || !double.IsFinite(ratePerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "arrival rate must be finite and > 0");
        }
    }
}
