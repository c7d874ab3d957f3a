using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Prediction;

/// <summary>
/// A predictor with a chosen rank quality, for simulation: <c>predicted = true · exp(N(0, σ²))</c> with
/// <c>σ = σ_L·√(1/ρ² − 1)</c> and <c>ρ = sin(π·τ/2)</c>, so that on log-normal lengths with log-σ σ_L the
/// prediction's Kendall τ with the true length is the target (Greiner's relation for bivariate normals).
/// </summary>
public sealed class NoisyOracleLengthPredictor : ILengthPredictor
{
    private readonly Random _random;

    public NoisyOracleLengthPredictor(double kendallTau, double lengthLogSigma, Random random)
    {
        if (!(kendallTau > 0 && kendallTau <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(kendallTau), kendallTau, "Kendall tau must be in (0, 1]");
        }

        if (!(lengthLogSigma >= 0) || double.IsInfinity(lengthLogSigma))
        {
            throw new ArgumentOutOfRangeException(nameof(lengthLogSigma), lengthLogSigma, "length log-sigma must be finite and >= 0");
        }

        KendallTau = kendallTau;
        var rho = Math.Sin(Math.PI * kendallTau / 2);
        NoiseSigma = kendallTau >= 1 ? 0 : lengthLogSigma * Math.Sqrt((1 / (rho * rho)) - 1);
        _random = random;
    }

    public double KendallTau { get; }
    public double NoiseSigma { get; }
    public string Name => FormattableString.Invariant($"noisy(tau={KendallTau})");

    public double Predict(RequestState request)
    {
        var truth = request.Oracle?.TrueLength
                    ?? throw new InvalidOperationException($"request {request.Id} carries no ground truth: the noisy oracle only works in simulation");
        return Math.Max(1, truth * Math.Exp(NoiseSigma * Sampling.StandardNormal(_random)));
    }
}
