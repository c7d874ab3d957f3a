namespace Laps.Simulation.Workloads;

/// <summary>Per-request acceptance of one proposer: Beta-distributed mean α across requests, and AR(1) noise within one.</summary>
/// <param name="Mean">Mean over requests of the per-token acceptance probability α (in (0, 1)).</param>
/// <param name="Sd">Standard deviation over requests of α (a Beta with this mean and sd is drawn per request).</param>
/// <param name="NoiseSd">Standard deviation of the AR(1) noise added to α along one request's output.</param>
public sealed record AcceptanceProfile(double Mean, double Sd, double NoiseSd = 0.12)
{
    public void Validate()
    {
        if (!(Mean > 0 && Mean < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Mean), Mean, "acceptance mean must be in (0, 1)");
        }

        if (!(Sd >= 0 && Sd < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(Sd), Sd, "acceptance sd must be in [0, 0.5)");
        }

        if (!(NoiseSd >= 0 && NoiseSd < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(NoiseSd), NoiseSd, "acceptance noise sd must be in [0, 1)");
        }
    }
}

/// <summary>Knobs of <see cref="SyntheticAcceptance"/> shared by all profiles.</summary>
public sealed record SyntheticAcceptanceOptions
{
    /// <summary>AR(1) coefficient of the per-position noise (correlation between neighbouring positions).</summary>
    public double Phi { get; init; } = 0.9;

    /// <summary>Share of the output over which acceptance warms up (the first fifth).</summary>
    public double WarmupFraction { get; init; } = 0.2;

    /// <summary>
    /// How far α sits below the request's mean at position 0; the gap closes linearly by the end of the warm-up. In the
    /// SpecDecode-Bench traces the first fifth averages ≈ 0.04 (EAGLE) to 0.06 (n-gram) below the rest, i.e. a start
    /// about twice as far down.
    /// </summary>
    public double WarmupDrop { get; init; } = 0.08;

    /// <summary>The noise standard deviation is this many times larger at position 0, easing to 1× by the end of the warm-up.</summary>
    public double WarmupNoiseFactor { get; init; } = 1.5;

    /// <summary>Largest acc_len value (1 + drafts accepted): 16, as in the EAGLE traces.</summary>
    public int MaxAccLen { get; init; } = 16;

    public static SyntheticAcceptanceOptions Default { get; } = new();
}

/// <summary>
/// Generates an acceptance trace in the SpecDecode-Bench convention (<c>accLen[p]</c> = 1 + the consecutive drafts
/// accepted when speculation starts at output position p, at most <see cref="SyntheticAcceptanceOptions.MaxAccLen"/>).
/// </summary>
/// <remarks>
/// <para>Per request, α ~ Beta(mean, sd). Along the output the local acceptance is α, lowered and noisier over the
/// warm-up (first fifth), plus AR(1) noise z_p = φ·z_(p−1) + √(1−φ²)·ε (φ ≈ 0.9), clamped to [0, 0.99].</para>
/// <para>Runs cluster as in the real traces: if accLen[p−1] &gt; 1 the draft that was accepted there is still accepted
/// one position later, so accLen[p] = accLen[p−1] − 1 (the descending 5, 4, 3, 2, 1 patterns of the traces); otherwise a
/// fresh run is drawn: 1 + the number of successes, each with the local α, before the first failure (capped). Real traces
/// sometimes restart higher inside a run (≈ 25% of EAGLE positions); this process does not, which only matters when
/// k + 1 is shorter than a run.</para>
/// <para>Deterministic: everything comes from the <see cref="Random"/> passed in.</para>
/// </remarks>
public static class SyntheticAcceptance
{
    /// <summary>Draws the request's α from the profile and generates <paramref name="length"/> positions.</summary>
    public static int[] Generate(int length, AcceptanceProfile acceptance, Random random, SyntheticAcceptanceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(acceptance);
        var alpha = DrawRequestAlpha(acceptance, random);
        return GenerateForAlpha(length, alpha, acceptance.NoiseSd, random, options);
    }

    /// <summary>One request's mean acceptance α ~ Beta(mean, sd).</summary>
    public static double DrawRequestAlpha(AcceptanceProfile acceptance, Random random)
    {
        ArgumentNullException.ThrowIfNull(acceptance);
        ArgumentNullException.ThrowIfNull(random);
        return Distributions.BetaFromMoments(random, acceptance.Mean, acceptance.Sd);
    }

    /// <summary>Generates <paramref name="length"/> positions around a given request α.</summary>
    public static int[] GenerateForAlpha(int length, double requestAlpha, double noiseSd, Random random, SyntheticAcceptanceOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentNullException.ThrowIfNull(random);
        if (!(requestAlpha >= 0 && requestAlpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(requestAlpha), requestAlpha, "alpha must be in [0, 1]");
        }

        options ??= SyntheticAcceptanceOptions.Default;
        var maxAccLen = Math.Max(1, options.MaxAccLen);
        var phi = Math.Clamp(options.Phi, 0, 0.9999);
        var warmup = Math.Max(1.0, options.WarmupFraction * length);

        var accLen = new int[length];
        var z = Distributions.Gaussian(random);
        var zPosition = 0;
        for (var p = 0; p < length; p++)
        {
            if (p > 0 && accLen[p - 1] > 1)
            {
                accLen[p] = accLen[p - 1] - 1;
                continue;
            }

            // Advance the AR(1) noise from its last evaluated position to p in one exact step:
            // z_p = φ^m·z + √(1 − φ^(2m))·ε, the same law as m single steps, at one draw per fresh run.
            var m = p - zPosition;
            if (m > 0)
            {
                var decay = m == 1 ? phi : Math.Pow(phi, m);
                z = (decay * z) + (Math.Sqrt(1 - (decay * decay)) * Distributions.Gaussian(random));
                zPosition = p;
            }

            var ramp = p < warmup ? 1.0 - (p / warmup) : 0.0;
            var baseAlpha = requestAlpha - (options.WarmupDrop * ramp);
            var sd = noiseSd * (1.0 + ((options.WarmupNoiseFactor - 1.0) * ramp));
            var local = Math.Clamp(baseAlpha + (sd * z), 0.0, 0.99);

            var run = 1;
            while (run < maxAccLen && random.NextDouble() < local)
            {
                run++;
            }

            accLen[p] = run;
        }

        return accLen;
    }

    /// <summary>
    /// Per-token acceptance estimated from an acceptance trace: walk the run starts (p, p + accLen[p], ...) as
    /// unlimited speculation would, and return Σ(accLen − 1) / Σ accLen, the geometric-run maximum-likelihood α
    /// (ignoring the cap). On the SpecDecode-Bench EAGLE traces this gives 0.61 (ShareGPT), 0.63 (CNN/DM), 0.64 (GSM8K).
    /// </summary>
    public static double EstimateAlpha(ReadOnlySpan<int> accLen)
    {
        long total = 0;
        long starts = 0;
        var p = 0;
        while (p < accLen.Length)
        {
            var run = Math.Max(1, accLen[p]);
            total += run;
            starts++;
            p += run;
        }

        return total == 0 ? 0 : (double)(total - starts) / total;
    }
}
