using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

/// <summary>
/// A request removed from a policy and admitted again (cancelled on one worker and admitted on another, or handed
/// back) starts with fresh policy state: no boost, its level and its place in it taken anew, no cached estimate.
/// What it carries is only what the request itself reports: its attained service, acceptance and tokens.
/// </summary>
public sealed class ReadmissionTests
{
    private static readonly StarvationGuard Guard = new(IdleSteps: 3, BoostSteps: 5);

    [Fact]
    public void A_boosted_request_admitted_again_to_the_same_policy_has_no_boost()
    {
        var srpt = new SrptPolicy(PolicyTestExtensions.Context(), Guard);
        RequestState longOne = Request(1).Predicted(1000), shortOne = Request(2).Predicted(10);
        srpt.Admitting(longOne, shortOne);
        srpt.SelectIds(1);
        srpt.SelectIds(1);
        Assert.Equal([1L], srpt.SelectIds(1)); // idle for 3 decisions: boosted until decision 8

        srpt.Remove(longOne);
        srpt.Admit(longOne);

        Assert.Equal(0, srpt.CurrentKey(longOne).Level);
        Assert.Equal([2L], srpt.SelectIds(1));
    }

    [Fact]
    public void A_boosted_request_admitted_to_another_workers_policy_has_no_boost()
    {
        var first = new SrptPolicy(PolicyTestExtensions.Context(), Guard);
        RequestState longOne = Request(1).Predicted(1000);
        first.Admitting(longOne, Request(2).Predicted(10));
        first.SelectIds(1);
        first.SelectIds(1);
        Assert.Equal([1L], first.SelectIds(1));

        var second = new SrptPolicy(PolicyTestExtensions.Context(), Guard).Admitting(Request(3).Predicted(10));
        first.Remove(longOne);
        second.Admit(longOne);

        Assert.Equal(0, second.CurrentKey(longOne).Level);
        Assert.Equal([3L, 1L], second.SelectIds(2));
    }

    [Fact]
    public void A_request_admitted_to_another_mlfq_queues_behind_the_requests_already_in_its_level()
    {
        var first = new MlfqPolicy(PolicyTestExtensions.Context());
        RequestState moved = Request(1);
        first.Admit(moved); // first in its level here
        var second = new MlfqPolicy(PolicyTestExtensions.Context()).Admitting(Request(2), Request(3));

        first.Remove(moved);
        second.Admit(moved);

        Assert.Equal(0, second.QueueLevel(moved));
        Assert.Equal([2L, 3L, 1L], second.SelectIds(3));
    }

    [Fact]
    public void A_demoted_mlfq_request_admitted_again_keeps_the_level_of_its_attained_service_and_enters_it_last()
    {
        // Step 0.25 s, quanta of 2 and 4 steps: 2 steps of service reach level 1.
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context());
        RequestState demoted = Request(1), other = Request(2);
        mlfq.Admitting(demoted, other);
        mlfq.Step(demoted, steps: 2);
        mlfq.Step(other, steps: 2);
        Assert.Equal([1L, 2L], mlfq.SelectIds(2));

        mlfq.Remove(demoted);
        mlfq.Admit(demoted);

        Assert.Equal(1, mlfq.QueueLevel(demoted));
        Assert.Equal([2L, 1L], mlfq.SelectIds(2));
    }

    [Fact]
    public void A_laps_request_admitted_to_another_policy_does_not_reuse_the_first_policys_posterior()
    {
        // Two workers' posteriors at the same version, one learned that predictions run 10x short, the other 2x.
        var options = new LapsOptions { Estimate = RemainingEstimate.Posterior, PosteriorCapacity = 64, PosteriorNeighbours = 8 };
        var context = PolicyTestExtensions.Context();
        LapsPolicy first = new(context, options), second = new(context, options);
        for (var i = 0; i < 40; i++)
        {
            first.OnCompleted(Request(100 + i).Predicted(10), trueLength: 100);
            second.OnCompleted(Request(200 + i).Predicted(10), trueLength: 20);
        }

        RequestState moved = Request(1).Predicted(10);
        first.Admit(moved);
        Assert.Equal(ExecutionTimeEstimator.Total(100, 4, 0.5, 0.25), first.EstimatedRemainingSeconds(moved));

        first.Remove(moved);
        second.Admit(moved);

        Assert.Equal(ExecutionTimeEstimator.Total(20, 4, 0.5, 0.25), second.EstimatedRemainingSeconds(moved));
    }

    [Fact]
    public void A_request_removed_by_the_batch_scheduler_can_be_admitted_by_another()
    {
        var predictor = new OracleLengthPredictor();
        var first = new BatchScheduler(new LapsPolicy(PolicyTestExtensions.Context()), predictor, maxBatch: 2);
        var second = new BatchScheduler(new LapsPolicy(PolicyTestExtensions.Context()), predictor, maxBatch: 2);
        RequestState r = Request(1);
        first.Admit(r);
        Assert.Same(r, Assert.Single(first.Decide().Selected));

        first.Cancel(r);
        second.Admit(r);

        Assert.False(first.Policy.Contains(r));
        Assert.True(second.Policy.Contains(r));
        Assert.Empty(first.Decide().Selected);
        Assert.Same(r, Assert.Single(second.Decide().Selected));
    }

    [Fact]
    public void A_request_cannot_be_admitted_twice()
    {
        var first = new FcfsPolicy(PolicyTestExtensions.Context());
        var second = new FcfsPolicy(PolicyTestExtensions.Context());
        RequestState r = Request(1);
        first.Admit(r);

        Assert.Throws<InvalidOperationException>(() => first.Admit(r));
        Assert.Throws<InvalidOperationException>(() => second.Admit(r));
        Assert.False(second.Contains(r));
        second.Remove(r); // not its request: ignored
        Assert.True(first.Contains(r));
    }
}
