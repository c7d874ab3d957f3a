using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

public sealed class SrptPolicyTests
{
    [Fact]
    public void A_newcomer_with_a_shorter_remaining_prediction_preempts_the_running_request()
    {
        var scheduler = new BatchScheduler(new SrptPolicy(PolicyTestExtensions.Context()), new OracleLengthPredictor(), maxBatch: 1);
        RequestState running = Request(1).WithTruth(100), shorter = Request(2).WithTruth(50);
        scheduler.Admit(running);
        scheduler.Decide();
        scheduler.RecordStep(running, 3, 4, 2, 0.25, now: 1);
        scheduler.Admit(shorter);

        var decision = scheduler.Decide();

        Assert.Equal([2L], decision.Selected.Ids());
        Assert.Equal([1L], decision.Preempted.Ids());
    }

    [Fact]
    public void Select_orders_by_remaining_not_total_prediction()
    {
        var srpt = new SrptPolicy(PolicyTestExtensions.Context());
        RequestState nearlyDone = Request(1).Predicted(100), fresh = Request(2).Predicted(30);
        srpt.Admitting(nearlyDone, fresh);
        srpt.Step(nearlyDone, steps: 80);

        Assert.Equal([1L, 2L], srpt.SelectIds(2));
    }

    [Theory]
    [InlineData(10, 0, 10)]
    [InlineData(10, 9, 1)]
    [InlineData(10, 10, 1)]
    [InlineData(10, 15, 1)]
    [InlineData(10.5, 10, 1)]
    public void The_remaining_prediction_floors_at_one_token(double predicted, int generated, double expectedRemaining)
    {
        var srpt = new SrptPolicy(PolicyTestExtensions.Context());
        RequestState r = Request(1).Predicted(predicted);
        srpt.Admit(r);

        srpt.Step(r, steps: generated);

        Assert.Equal(expectedRemaining, srpt.CurrentKey(r).Primary);
    }

    [Fact]
    public void A_request_past_its_prediction_outranks_every_fresh_request()
    {
        var srpt = new SrptPolicy(PolicyTestExtensions.Context());
        RequestState overrun = Request(1).Predicted(10), tiny = Request(2).Predicted(2);
        srpt.Admitting(overrun, tiny);
        srpt.Step(overrun, steps: 15);

        Assert.Equal([1L, 2L], srpt.SelectIds(2));
    }
}
