namespace Laps.Scheduling;

/// <summary>Random variates drawn only from the <see cref="Random"/> passed in (the core has no randomness of its own).</summary>
public static class Sampling
{
    /// <summary>Standard normal variate (Box–Muller; one of the pair is discarded to keep the method stateless).</summary>
    public static double StandardNormal(Random random)
    {
        var u1 = 1.0 - random.NextDouble(); // (0, 1]: keeps the logarithm finite
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
