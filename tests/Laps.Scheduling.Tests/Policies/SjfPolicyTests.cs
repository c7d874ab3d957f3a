using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

public sealed class SjfPolicyTests
{
    [Fact]
    public void Select_orders_by_predicted_total_length()
    {
        var sjf = new SjfPolicy(PolicyTestExtensions.Context())
            .Admitting(Request(1).Predicted(300), Request(2).Predicted(20), Request(3).Predicted(100));

        Assert.Equal([2L, 3L], sjf.SelectIds(2));
    }

    [Fact]
    public void Select_breaks_equal_predictions_by_arrival()
    {
        var sjf = new SjfPolicy(PolicyTestExtensions.Context())
            .Admitting(Request(1).ArrivingAt(9).Predicted(50), Request(2).ArrivingAt(3).Predicted(50));

        Assert.Equal([2L, 1L], sjf.SelectIds(2));
    }

    [Fact]
    public void A_running_request_keeps_its_slot_against_a_shorter_newcomer()
    {
        var scheduler = new BatchScheduler(new SjfPolicy(PolicyTestExtensions.Context()), new OracleLengthPredictor(), maxBatch: 1);
        RequestState running = Request(1).WithTruth(500), shorter = Request(2).WithTruth(5);
        scheduler.Admit(running);
        scheduler.Decide();
        scheduler.RecordStep(running, 1, 4, 0, 0.25, now: 1);
        scheduler.Admit(shorter);

        var decision = scheduler.Decide();

        Assert.Equal([1L], decision.Selected.Ids());
        Assert.Empty(decision.Preempted);
    }

    [Fact]
    public void The_shorter_newcomer_runs_once_the_running_request_finishes()
    {
        var scheduler = new BatchScheduler(new SjfPolicy(PolicyTestExtensions.Context()), new OracleLengthPredictor(), maxBatch: 1);
        RequestState running = Request(1).WithTruth(500), shorter = Request(2).WithTruth(5), longer = Request(3).WithTruth(50);
        scheduler.Admit(running);
        scheduler.Decide();
        scheduler.Admit(longer);
        scheduler.Admit(shorter);

        scheduler.Finish(running, now: 1);

        Assert.Equal([2L], scheduler.Decide().Selected.Ids());
    }
}
