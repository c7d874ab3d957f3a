using Laps.Scheduling.Requests;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Requests;

public sealed class RequestStateTests
{
    [Fact]
    public void RecordStep_accumulates_tokens_service_and_acceptance()
    {
        RequestState r = Request(1);

        r.RecordStep(emitted: 3, drafted: 4, accepted: 2, stepSeconds: 0.01, now: 1);
        r.RecordStep(emitted: 5, drafted: 4, accepted: 4, stepSeconds: 0.02, now: 2);

        Assert.Equal(8, r.Generated);
        Assert.Equal(0.03, r.AttainedService, 12);
        Assert.Equal(2, r.Steps);
        Assert.Equal(0.75, r.Acceptance.Rate(prior: 0));
    }

    [Fact]
    public void FirstTokenTime_is_the_time_of_the_first_step_that_emitted()
    {
        RequestState r = Request(1);

        r.RecordStep(0, 4, 0, 0.01, now: 1);
        r.RecordStep(1, 4, 0, 0.01, now: 2);
        r.RecordStep(1, 4, 0, 0.01, now: 3);

        Assert.Equal(2, r.FirstTokenTime);
    }

    [Theory]
    [InlineData(-1, 4, 2)]
    [InlineData(1, -4, 0)]
    [InlineData(1, 4, -1)]
    [InlineData(1, 4, 5)]
    public void RecordStep_refuses_an_inconsistent_report(int emitted, int drafted, int accepted)
    {
        RequestState r = Request(1);

        var ex = Assert.Throws<ArgumentException>(() => r.RecordStep(emitted, drafted, accepted, 0.01, 0));

        Assert.Contains($"emitted={emitted} drafted={drafted} accepted={accepted}", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, r.Steps);
    }

    [Fact]
    public void A_negative_prompt_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RequestState(1, 0, promptTokens: -1));
    }

    [Fact]
    public void A_new_request_has_a_prediction_of_one_token_and_no_history()
    {
        var r = new RequestState(1, arrivalTime: 2.5, promptTokens: 10, maxTokens: 64);

        Assert.Equal(1, r.PredictedLength);
        Assert.Equal(64, r.MaxTokens);
        Assert.Equal(2.5, r.ArrivalTime);
        Assert.Null(r.FirstTokenTime);
        Assert.False(r.Perceptible);
        Assert.Null(r.Oracle);
    }
}
