using Laps.Scheduling;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Prediction;

public sealed class NoisyOracleLengthPredictorTests
{
    [Fact]
    public void Tau_0_55_on_ShareGPT_lengths_gives_a_noise_sigma_of_about_0_88()
    {
        var predictor = new NoisyOracleLengthPredictor(kendallTau: 0.55, lengthLogSigma: 1.03, new Random(1));

        Assert.Equal(0.88, predictor.NoiseSigma, 2);
    }

    // σ = σ_L·√(1/ρ² − 1), ρ = sin(π·τ/2); τ = 0.5 gives ρ = √½ and so σ = σ_L exactly.
    [Theory]
    [InlineData(0.5, 1.0)]
    [InlineData(0.5, 0.37)]
    [InlineData(0.55, 1.03)]
    [InlineData(0.2, 0.8)]
    [InlineData(0.9, 0.33)]
    public void NoiseSigma_follows_sigma_L_times_sqrt_of_one_over_rho_squared_minus_one(double tau, double sigmaL)
    {
        var rho = Math.Sin(Math.PI * tau / 2);

        var predictor = new NoisyOracleLengthPredictor(tau, sigmaL, new Random(1));

        Assert.Equal(sigmaL * Math.Sqrt((1 / (rho * rho)) - 1), predictor.NoiseSigma, 12);
    }

    [Fact]
    public void Tau_0_5_gives_noise_as_wide_as_the_lengths_themselves()
    {
        Assert.Equal(0.8, new NoisyOracleLengthPredictor(0.5, 0.8, new Random(1)).NoiseSigma, 12);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(500)]
    public void Tau_1_predicts_the_true_length(int length)
    {
        var predictor = new NoisyOracleLengthPredictor(1, 1.03, new Random(1));

        Assert.Equal(0, predictor.NoiseSigma);
        Assert.Equal(length, predictor.Predict(Request(1).WithTruth(length)));
    }

    // Log-normal lengths with the workload's σ_L: the predictor's rank agreement hits the target τ.
    [Theory]
    [InlineData(0.55, 6.18, 1.03)]
    [InlineData(0.3, 6.18, 1.03)]
    [InlineData(0.8, 5.01, 0.80)]
    [InlineData(0.55, 5.72, 0.37)]
    public void The_empirical_Kendall_tau_on_2000_log_normal_lengths_is_within_0_05_of_the_target(double tau, double mu, double sigmaL)
    {
        var lengths = new Random(20_240_517);
        var predictor = new NoisyOracleLengthPredictor(tau, sigmaL, new Random(99));
        var truth = new double[2000];
        var predicted = new double[2000];
        for (var i = 0; i < truth.Length; i++)
        {
            var length = Math.Max(1, (int)Math.Round(Math.Exp(mu + (sigmaL * Sampling.StandardNormal(lengths)))));
            truth[i] = length;
            predicted[i] = predictor.Predict(Request(i).WithTruth(length));
        }

        Assert.InRange(KendallTau.TauB(truth, predicted), tau - 0.05, tau + 0.05);
    }

    [Fact]
    public void Predictions_are_at_least_one_token()
    {
        var predictor = new NoisyOracleLengthPredictor(0.1, 3, new Random(3));

        for (var i = 0; i < 1000; i++)
        {
            Assert.True(predictor.Predict(Request(i).WithTruth(1)) >= 1);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_predictions()
    {
        var a = new NoisyOracleLengthPredictor(0.55, 1.03, new Random(5));
        var b = new NoisyOracleLengthPredictor(0.55, 1.03, new Random(5));
        RequestState r = Request(1).WithTruth(300);

        Assert.Equal(Enumerable.Range(0, 20).Select(_ => a.Predict(r)), Enumerable.Range(0, 20).Select(_ => b.Predict(r)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-0.2)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void A_tau_outside_0_to_1_is_refused(double tau)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new NoisyOracleLengthPredictor(tau, 1.03, new Random(1)));

        Assert.Equal("kendallTau", ex.ParamName);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_negative_or_non_finite_length_sigma_is_refused(double sigmaL)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new NoisyOracleLengthPredictor(0.5, sigmaL, new Random(1)));

        Assert.Equal("lengthLogSigma", ex.ParamName);
    }

    [Fact]
    public void Predict_without_ground_truth_throws_naming_the_request()
    {
        var predictor = new NoisyOracleLengthPredictor(0.5, 1, new Random(1));

        var ex = Assert.Throws<InvalidOperationException>(() => predictor.Predict(Request(42).WithoutTruth()));

        Assert.Contains("42", ex.Message, StringComparison.Ordinal);
    }
}
