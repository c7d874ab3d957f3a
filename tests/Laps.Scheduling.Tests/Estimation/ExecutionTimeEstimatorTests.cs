using Laps.Scheduling.Estimation;

namespace Laps.Scheduling.Tests.Estimation;

public sealed class ExecutionTimeEstimatorTests
{
    [Theory]
    [InlineData(4, 0.5, 3)]
    [InlineData(4, 0.0, 1)]
    [InlineData(4, 1.0, 5)]
    [InlineData(2, 0.75, 2.5)]
    [InlineData(4, 1.5, 5)]
    [InlineData(4, -0.5, 1)]
    public void TokensPerStep_is_k_times_A_plus_one_with_A_clamped_to_0_1(int k, double acceptance, double expected)
    {
        Assert.Equal(expected, ExecutionTimeEstimator.TokensPerStep(k, acceptance));
    }

    // T = L / (k·A + 1) · (k·T_SSM + T_LLM)
    [Theory]
    [InlineData(300, 4, 0.5, 0.01, 1.0)]
    [InlineData(100, 4, 1.0, 0.02, 0.4)]
    [InlineData(7, 2, 0.25, 0.3, 1.4)]
    [InlineData(0, 4, 0.5, 0.01, 0)]
    [InlineData(-50, 4, 0.5, 0.01, 0)]
    public void Total_is_length_over_tokens_per_step_times_step_cost(double length, int k, double acceptance, double stepSeconds, double expected)
    {
        Assert.Equal(expected, ExecutionTimeEstimator.Total(length, k, acceptance, stepSeconds), 12);
    }

    [Fact]
    public void Total_with_a_draft_model_step_cost_matches_the_papers_formula()
    {
        const double tSsm = 0.002, tLlm = 0.03;
        const int k = 5;

        // 240 tokens at A = 0.6: 240 / 4 = 60 steps of 5·2 + 30 = 40 ms.
        Assert.Equal(2.4, ExecutionTimeEstimator.Total(240, k, 0.6, (k * tSsm) + tLlm), 12);
    }

    [Theory]
    [InlineData(100, 40, 4, 0.5, 0.03, 0.6)]
    [InlineData(100, 0, 4, 0.5, 0.03, 1.0)]
    [InlineData(100, 99, 4, 0.5, 0.03, 0.01)]
    [InlineData(100, 100, 4, 0.5, 0.03, 0.01)]
    [InlineData(100, 150, 4, 0.5, 0.03, 0.01)]
    [InlineData(10.5, 10, 4, 0.5, 0.03, 0.01)]
    public void Remaining_is_the_total_on_predicted_minus_generated_floored_at_one_token(
        double predicted, int generated, int k, double acceptance, double stepSeconds, double expected)
    {
        Assert.Equal(expected, ExecutionTimeEstimator.Remaining(predicted, generated, k, acceptance, stepSeconds), 12);
    }
}
