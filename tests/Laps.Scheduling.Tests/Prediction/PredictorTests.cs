using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Prediction;

public sealed class PredictorTests
{
    [Fact]
    public void The_oracle_predicts_the_true_length()
    {
        Assert.Equal(321, new OracleLengthPredictor().Predict(Request(1).WithTruth(321)));
    }

    [Fact]
    public void The_oracle_without_ground_truth_throws_naming_the_request()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new OracleLengthPredictor().Predict(Request(9).WithoutTruth()));

        Assert.Contains("9", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500, 100, 100)]
    [InlineData(50, 100, 50)]
    [InlineData(100, 100, 100)]
    [InlineData(500, null, 500)]
    public void MaxTokensCap_caps_the_inner_prediction_at_max_tokens(int truth, int? maxTokens, double expected)
    {
        var builder = Request(1).WithTruth(truth);
        RequestState request = maxTokens is int cap ? builder.WithMaxTokens(cap) : builder;

        Assert.Equal(expected, new MaxTokensCapPredictor(new OracleLengthPredictor()).Predict(request));
    }

    [Fact]
    public void MaxTokensCap_is_named_after_its_inner_predictor()
    {
        Assert.Equal("oracle+cap", new MaxTokensCapPredictor(new OracleLengthPredictor()).Name);
    }

    [Fact]
    public void MaxTokensCap_passes_completions_on_to_its_inner_predictor()
    {
        var inner = new RecordingPredictor();
        RequestState done = Request(3);

        new MaxTokensCapPredictor(inner).Observe(done, 77);

        Assert.Equal([(3L, 77)], inner.Observed);
    }

    internal sealed class RecordingPredictor(double prediction = 10) : ILengthPredictor
    {
        public List<(long Id, int TrueLength)> Observed { get; } = [];

        public string Name => "recording";

        public double Predict(RequestState request) => prediction;

        public void Observe(RequestState completed, int trueLength) => Observed.Add((completed.Id, trueLength));
    }
}
