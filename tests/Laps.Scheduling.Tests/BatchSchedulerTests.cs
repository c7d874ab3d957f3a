using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using Laps.Scheduling.Tests.Prediction;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests;

public sealed class BatchSchedulerTests
{
    private static readonly PolicyContext Context = PolicyTestExtensions.Context();

    [Theory]
    [InlineData(0)]
    [InlineData(-4)]
    public void A_batch_size_below_one_is_refused(int batch)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), batch));

        Assert.Equal(batch, ex.ActualValue);
    }

    [Theory]
    [InlineData(250, 250)]
    [InlineData(0.2, 1)]
    [InlineData(-3, 1)]
    public void Admit_sets_the_prediction_from_the_predictor_floored_at_one_token(double predicted, double expected)
    {
        var scheduler = new BatchScheduler(new SjfPolicy(Context), new PredictorTests.RecordingPredictor(predicted), 1);
        RequestState r = Request(1);

        scheduler.Admit(r);

        Assert.Equal(expected, r.PredictedLength);
        Assert.Equal(1, scheduler.Pending);
    }

    [Fact]
    public void Decide_marks_the_selected_requests_running()
    {
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), 2);
        RequestState a = Request(1), b = Request(2), c = Request(3);
        scheduler.Admit(a);
        scheduler.Admit(b);
        scheduler.Admit(c);

        scheduler.Decide();

        Assert.True(a.Running);
        Assert.True(b.Running);
        Assert.False(c.Running);
    }

    [Fact]
    public void A_request_that_loses_its_slot_is_reported_preempted_counted_and_no_longer_running()
    {
        var scheduler = new BatchScheduler(new LasPolicy(Context), new OracleLengthPredictor(), 1);
        RequestState old = Request(1), fresh = Request(2);
        scheduler.Admit(old);
        scheduler.Decide();
        scheduler.RecordStep(old, 1, 4, 2, 0.25, 1);
        scheduler.Admit(fresh);

        var decision = scheduler.Decide();

        Assert.Equal([1L], decision.Preempted.Ids());
        Assert.Equal(1, old.Preemptions);
        Assert.False(old.Running);
        Assert.True(fresh.Running);
    }

    [Fact]
    public void A_request_that_keeps_its_slot_is_not_preempted()
    {
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), 1);
        RequestState r = Request(1);
        scheduler.Admit(r);
        scheduler.Decide();

        var decision = scheduler.Decide();

        Assert.Empty(decision.Preempted);
        Assert.Equal(0, r.Preemptions);
    }

    [Fact]
    public void A_request_that_finished_last_step_is_not_reported_preempted()
    {
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), 1);
        RequestState done = Request(1), next = Request(2);
        scheduler.Admit(done);
        scheduler.Admit(next);
        scheduler.Decide();
        scheduler.Finish(done, now: 1);

        var decision = scheduler.Decide();

        Assert.Equal([2L], decision.Selected.Ids());
        Assert.Empty(decision.Preempted);
    }

    [Fact]
    public void A_request_cancelled_while_running_is_not_reported_preempted()
    {
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), 1);
        RequestState gone = Request(1), next = Request(2);
        scheduler.Admit(gone);
        scheduler.Admit(next);
        scheduler.Decide();
        scheduler.Cancel(gone);

        var decision = scheduler.Decide();

        Assert.Empty(decision.Preempted);
        Assert.False(gone.Running);
        Assert.Equal(1, scheduler.Pending);
    }

    [Fact]
    public void A_running_request_the_host_holds_back_loses_its_slot_here()
    {
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), 1);
        RequestState held = Request(1), next = Request(2);
        scheduler.Admit(held);
        scheduler.Admit(next);
        scheduler.Decide();

        var decision = scheduler.Decide(r => r == held);

        Assert.Equal([2L], decision.Selected.Ids());
        Assert.Equal([1L], decision.Preempted.Ids());
    }

    [Fact]
    public void Finish_records_the_time_and_teaches_the_predictor_the_generated_length()
    {
        var predictor = new PredictorTests.RecordingPredictor();
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), predictor, 1);
        RequestState r = Request(1);
        scheduler.Admit(r);
        scheduler.Decide();
        scheduler.RecordStep(r, 4, 4, 3, 0.25, now: 1);
        scheduler.RecordStep(r, 2, 4, 1, 0.25, now: 2);

        scheduler.Finish(r, now: 2);

        Assert.Equal(2, r.FinishTime);
        Assert.Equal([(1L, 6)], predictor.Observed);
        Assert.Equal(0, scheduler.Pending);
        Assert.False(r.Running);
    }

    [Fact]
    public void Finish_teaches_the_policy_the_true_length()
    {
        var laps = new LapsPolicy(Context, new LapsOptions { Estimate = RemainingEstimate.Posterior, PosteriorCapacity = 8, PosteriorNeighbours = 2 });
        var scheduler = new BatchScheduler(laps, new PredictorTests.RecordingPredictor(prediction: 10), 1);
        for (var i = 0; i < 40; i++)
        {
            RequestState done = Request(100 + i);
            scheduler.Admit(done);
            scheduler.RecordStep(done, 50, 4, 2, 0.25, now: i);
            scheduler.Finish(done, now: i);
        }

        RequestState r = Request(1);
        scheduler.Admit(r);

        // Predicted 10, but every completion predicted 10 ran 50 tokens: 50 tokens at 3 per step of 0.25 s.
        Assert.Equal(50.0 / 3 * 0.25, laps.EstimatedRemainingSeconds(r)!.Value, 12);
    }

    [Fact]
    public void Cancel_teaches_nothing()
    {
        var predictor = new PredictorTests.RecordingPredictor();
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), predictor, 1);
        RequestState r = Request(1);
        scheduler.Admit(r);

        scheduler.Cancel(r);

        Assert.Empty(predictor.Observed);
        Assert.Null(r.FinishTime);
        Assert.Equal(0, scheduler.Pending);
    }

    [Fact]
    public void A_step_reported_after_a_request_left_is_recorded_but_does_not_requeue_it()
    {
        var scheduler = new BatchScheduler(new LasPolicy(Context), new OracleLengthPredictor(), 1);
        RequestState r = Request(1);
        scheduler.Admit(r);
        scheduler.Cancel(r);

        scheduler.RecordStep(r, 1, 4, 2, 0.25, now: 1);

        Assert.Equal(1, r.Generated);
        Assert.False(scheduler.Policy.Contains(r));
        Assert.Empty(scheduler.Decide().Selected);
    }

    [Fact]
    public void The_decision_object_is_reused_by_the_next_call()
    {
        var scheduler = new BatchScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), 1);
        scheduler.Admit(Request(1));

        Assert.Same(scheduler.Decide(), scheduler.Decide());
    }
}
