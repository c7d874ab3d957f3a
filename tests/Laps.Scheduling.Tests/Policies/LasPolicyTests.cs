using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

public sealed class LasPolicyTests
{
    [Fact]
    public void Select_picks_the_least_attained_service_first()
    {
        var las = new LasPolicy(PolicyTestExtensions.Context());
        RequestState a = Request(1), b = Request(2), c = Request(3);
        las.Admitting(a, b, c);
        las.Step(a, seconds: 0.5);
        las.Step(b, seconds: 0.25);
        las.Step(c, seconds: 0.75);

        Assert.Equal([2L, 1L, 3L], las.SelectIds(3));
    }

    [Fact]
    public void Select_breaks_equal_service_by_arrival()
    {
        var las = new LasPolicy(PolicyTestExtensions.Context())
            .Admitting(Request(1).ArrivingAt(5), Request(2).ArrivingAt(4), Request(3).ArrivingAt(6));

        Assert.Equal([2L, 1L, 3L], las.SelectIds(3));
    }

    [Fact]
    public void A_newcomer_preempts_a_request_that_has_had_service()
    {
        var scheduler = new BatchScheduler(new LasPolicy(PolicyTestExtensions.Context()), new OracleLengthPredictor(), maxBatch: 1);
        RequestState old = Request(1), fresh = Request(2);
        scheduler.Admit(old);
        scheduler.Decide();
        scheduler.RecordStep(old, 1, 4, 0, 0.25, now: 0.25);
        scheduler.Admit(fresh);

        var decision = scheduler.Decide();

        Assert.Equal([2L], decision.Selected.Ids());
        Assert.Equal([1L], decision.Preempted.Ids());
    }
}
