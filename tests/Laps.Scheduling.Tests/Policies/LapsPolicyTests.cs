using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

/// <summary>
/// LAPS-SD. Context: k = 4, prior acceptance 0.5, step 0.25 s, so θ_0 = 8 steps = 2 s and thresholds are 2, 4, 8 s.
/// Steps recorded here accept 2 of 4 drafts, so the observed acceptance stays at 0.5 (3 tokens per step).
/// A queue q holds perceptible requests at key level 2q and non-perceptible ones at 2q + 1.
/// </summary>
public sealed class LapsPolicyTests
{
    private static readonly PolicyContext Context = PolicyTestExtensions.Context(stepSeconds: 0.25, k: 4, prior: 0.5);

    // These tests pin the paper's structure, so they start from the paper preset; the product default's additions
    // (reserved top queue, prediction before stability) have tests of their own.

    /// <summary>Never perceptible: a pure attained-service policy.</summary>
    private static readonly LapsOptions NeverPerceptible = LapsOptions.Paper with { StabilityTolerance = 0 };

    /// <summary>Perceptible after one step whatever its acceptance does, so tests choose who is perceptible.</summary>
    private static readonly LapsOptions PerceptibleAfterOneStep = LapsOptions.Paper with
    {
        Variant = LapsVariant.Paper, Estimate = RemainingEstimate.Point, StabilityTolerance = double.PositiveInfinity, MinSteps = 1,
    };

    [Fact]
    public void Admit_puts_a_new_request_in_the_top_queue_as_non_perceptible()
    {
        var laps = new LapsPolicy(Context);
        RequestState r = Request(1).Predicted(10);

        laps.Admit(r);

        Assert.False(r.Perceptible);
        Assert.Equal(0, QueueOf(laps, r));
        Assert.False(IsPerceptibleKey(laps, r));
    }

    [Theory]
    [InlineData(8, 2, 0.0, 0)]
    [InlineData(8, 2, 1.99, 0)]
    [InlineData(8, 2, 2.0, 1)]
    [InlineData(8, 2, 3.99, 1)]
    [InlineData(8, 2, 4.0, 2)]
    [InlineData(8, 2, 7.99, 2)]
    [InlineData(8, 2, 8.0, 3)]
    [InlineData(8, 2, 1000, 3)]
    [InlineData(4, 3, 0.99, 0)]
    [InlineData(4, 3, 1.0, 1)]
    [InlineData(4, 3, 3.0, 2)]
    [InlineData(4, 3, 9.0, 3)]
    public void A_non_perceptible_request_is_demoted_when_its_attained_service_passes_theta0_times_r_to_the_j(
        double theta0Steps, double ratio, double attainedSeconds, int expectedQueue)
    {
        var laps = new LapsPolicy(Context, NeverPerceptible with { Theta0Steps = theta0Steps, Ratio = ratio });
        RequestState r = Request(1).Predicted(10);
        laps.Admit(r);

        laps.Step(r, seconds: attainedSeconds);

        Assert.Equal(expectedQueue, QueueOf(laps, r));
    }

    [Fact]
    public void Non_perceptible_requests_run_least_attained_service_first()
    {
        var laps = new LapsPolicy(Context, NeverPerceptible);
        RequestState a = Request(1), b = Request(2), c = Request(3);
        laps.Admitting(a, b, c);
        laps.Step(a, seconds: 0.5);
        laps.Step(b, seconds: 0.1);
        laps.Step(c, seconds: 3);

        Assert.Equal([2L, 1L, 3L], laps.SelectIds(3));
    }

    [Fact]
    public void A_request_with_steady_acceptance_turns_perceptible_once_the_default_stability_test_passes()
    {
        var laps = new LapsPolicy(Context);
        RequestState r = Request(1).Predicted(500);
        laps.Admit(r);

        // Window 5: the cumulative rate after step 6 is compared with the rate after step 1.
        laps.Step(r, steps: 5, seconds: 0.01);
        Assert.False(r.Perceptible);
        laps.Step(r, steps: 1, seconds: 0.01);
        Assert.True(r.Perceptible);
    }

    [Fact]
    public void A_request_whose_acceptance_keeps_moving_stays_non_perceptible()
    {
        var laps = new LapsPolicy(Context);
        RequestState r = Request(1).Predicted(500);
        laps.Admit(r);

        // Alternating all-rejected and all-accepted steps: the cumulative rate moves by 0.1 or more per window until step 10.
        for (var i = 0; i < 10; i++)
        {
            laps.Step(r, seconds: 0.01, accepted: i % 2 == 0 ? 4 : 0);
        }

        Assert.False(r.Perceptible);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(200)]
    public void With_tolerance_zero_a_request_never_turns_perceptible(int steps)
    {
        var laps = new LapsPolicy(Context, NeverPerceptible);
        RequestState r = Request(1).Predicted(500);
        laps.Admit(r);

        laps.Step(r, steps, seconds: 0.01);

        Assert.False(r.Perceptible);
    }

    [Fact]
    public void With_infinite_tolerance_and_no_minimum_a_request_is_perceptible_on_admission()
    {
        var laps = new LapsPolicy(Context, LapsOptions.Paper with { StabilityTolerance = double.PositiveInfinity, MinSteps = 0 });
        RequestState r = Request(1).Predicted(500);

        laps.Admit(r);

        Assert.True(r.Perceptible);
        Assert.True(IsPerceptibleKey(laps, r));
    }

    [Fact]
    public void Perceptible_requests_run_ahead_of_non_perceptible_ones_of_their_queue_shortest_estimate_first()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep);
        RequestState longer = Request(1).Predicted(400), shorter = Request(2).Predicted(40), fresh = Request(3).Predicted(4);
        laps.Admitting(longer, shorter, fresh);
        laps.Step(longer, seconds: 0.01);
        laps.Step(shorter, seconds: 0.01);

        Assert.Equal([2L, 1L, 3L], laps.SelectIds(3));
    }

    [Fact]
    public void Non_perceptible_requests_of_a_higher_queue_run_ahead_of_perceptible_ones_of_a_lower_queue()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep);
        RequestState perceptible = Request(1).Predicted(4), fresh = Request(2).Predicted(400);
        laps.Admitting(perceptible, fresh);
        laps.Step(perceptible, seconds: 2.5);

        Assert.Equal(1, QueueOf(laps, perceptible));
        Assert.Equal([2L, 1L], laps.SelectIds(2));
    }

    [Fact]
    public void Perceptible_requests_with_the_same_prediction_run_higher_acceptance_first()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep);
        RequestState low = Request(1).Predicted(100), high = Request(2).Predicted(100);
        laps.Admitting(low, high);
        laps.Step(low, seconds: 0.01, accepted: 1);
        laps.Step(high, seconds: 0.01, accepted: 3);

        Assert.Equal([2L, 1L], laps.SelectIds(2));
    }

    [Fact]
    public void The_perceptible_order_is_by_estimated_remaining_time_max_of_prediction_minus_generated_and_one()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep);
        RequestState r = Request(1).Predicted(100);
        laps.Admit(r);

        laps.Step(r, steps: 10, seconds: 0.01, emitted: 3);

        // 70 tokens left at 3 tokens per step: 70/3 steps of 0.25 s.
        Assert.Equal(70.0 / 3 * 0.25, laps.CurrentKey(r).Primary, 12);
    }

    [Fact]
    public void Paper_variant_keeps_a_perceptible_request_in_the_queue_it_had_reached()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep);
        RequestState r = Request(1).Predicted(400);
        laps.Admit(r);
        laps.Step(r, seconds: 2.5);

        laps.Step(r, steps: 20, seconds: 0.5);

        Assert.Equal(1, QueueOf(laps, r));
        Assert.True(IsPerceptibleKey(laps, r));
    }

    [Fact]
    public void Paper_variant_with_demotion_after_perceptible_keeps_demoting_by_attained_service()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep with { DemoteAfterPerceptible = true });
        RequestState r = Request(1).Predicted(400);
        laps.Admit(r);
        laps.Step(r, seconds: 2.5);

        laps.Step(r, steps: 4, seconds: 0.5);

        Assert.Equal(2, QueueOf(laps, r));
    }

    // After one step a request has generated 1 token; its estimate is (L̂ - 1)/3 steps of 0.25 s = (L̂ - 1)/12 s.
    [Theory]
    [InlineData(13, 0)]
    [InlineData(37, 1)]
    [InlineData(61, 2)]
    [InlineData(1201, 3)]
    public void Perceived_variant_moves_a_perceptible_request_to_the_queue_whose_band_holds_its_estimate(double predicted, int expectedQueue)
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep with { Variant = LapsVariant.Perceived });
        RequestState r = Request(1).Predicted(predicted);
        laps.Admit(r);

        laps.Step(r, seconds: 0.01);

        Assert.Equal(expectedQueue, QueueOf(laps, r));
        Assert.True(IsPerceptibleKey(laps, r));
    }

    [Fact]
    public void EstimateAtPerceptible_is_empty_until_the_request_turns_perceptible()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep with { MinSteps = 3 });
        RequestState r = Request(1).Predicted(100);
        laps.Admit(r);

        laps.Step(r, steps: 2, seconds: 0.01);

        Assert.Null(r.EstimateAtPerceptible);
    }

    [Fact]
    public void EstimateAtPerceptible_is_the_remaining_estimate_at_the_step_the_request_turned_perceptible()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep with { MinSteps = 3 });
        RequestState r = Request(1).Predicted(100);
        laps.Admit(r);

        laps.Step(r, steps: 3, seconds: 0.01, emitted: 3);
        var atTurn = laps.EstimatedRemainingSeconds(r);
        laps.Step(r, steps: 5, seconds: 0.01, emitted: 3);

        Assert.Equal(3, r.StepsAtPerceptible);
        Assert.Equal(ExecutionTimeEstimator.Remaining(100, 9, 4, 0.5, 0.25), r.EstimateAtPerceptible);
        Assert.Equal(atTurn, r.EstimateAtPerceptible);
    }

    [Fact]
    public void PerceptibleAt_is_the_time_of_the_step_report_that_made_the_request_perceptible()
    {
        var scheduler = new BatchScheduler(new LapsPolicy(Context, PerceptibleAfterOneStep with { MinSteps = 2 }), new OracleLengthPredictor(), 1);
        RequestState r = Request(1).WithTruth(100);
        scheduler.Admit(r);
        scheduler.Decide();
        scheduler.RecordStep(r, 3, 4, 2, 0.25, now: 10.25);
        Assert.Null(r.PerceptibleAt);
        scheduler.Decide();
        scheduler.RecordStep(r, 3, 4, 2, 0.25, now: 10.5);
        scheduler.Decide();
        scheduler.RecordStep(r, 3, 4, 2, 0.25, now: 10.75);

        Assert.Equal(10.5, r.PerceptibleAt);
    }

    [Fact]
    public void PerceptibleAt_is_the_arrival_time_for_a_request_perceptible_on_admission()
    {
        var options = LapsOptions.Paper with { StabilityTolerance = double.PositiveInfinity, MinSteps = 0 };
        var scheduler = new BatchScheduler(new LapsPolicy(Context, options), new OracleLengthPredictor(), 1);
        RequestState r = Request(1).ArrivingAt(3.5).WithTruth(100);

        scheduler.Admit(r);

        Assert.Equal(3.5, r.PerceptibleAt);
    }

    [Fact]
    public void PerceptibleAt_stays_empty_while_the_request_is_non_perceptible()
    {
        var scheduler = new BatchScheduler(new LapsPolicy(Context, NeverPerceptible), new OracleLengthPredictor(), 1);
        RequestState r = Request(1).WithTruth(100);
        scheduler.Admit(r);
        scheduler.Decide();

        scheduler.RecordStep(r, 3, 4, 2, 0.25, now: 1);

        Assert.Null(r.PerceptibleAt);
    }

    [Fact]
    public void Before_the_posterior_has_enough_completions_the_estimate_is_the_point_estimate()
    {
        var laps = new LapsPolicy(Context, new LapsOptions { Estimate = RemainingEstimate.Posterior, PosteriorCapacity = 64, PosteriorNeighbours = 8 });
        RequestState r = Request(1).Predicted(10);
        laps.Admit(r);

        Assert.Equal(ExecutionTimeEstimator.Remaining(10, 0, 4, 0.5, 0.25), laps.EstimatedRemainingSeconds(r));
    }

    [Fact]
    public void With_the_posterior_the_estimate_learns_from_completions_that_predictions_run_short()
    {
        var laps = new LapsPolicy(Context, new LapsOptions { Estimate = RemainingEstimate.Posterior, PosteriorCapacity = 64, PosteriorNeighbours = 8 });
        for (var i = 0; i < 40; i++)
        {
            laps.OnCompleted(Request(100 + i).Predicted(10), trueLength: 100);
        }

        RequestState r = Request(1).Predicted(10);
        laps.Admit(r);

        Assert.Equal(ExecutionTimeEstimator.Total(100, 4, 0.5, 0.25), laps.EstimatedRemainingSeconds(r));
    }

    [Fact]
    public void With_a_small_posterior_capacity_the_posterior_is_used_once_it_is_full()
    {
        var laps = new LapsPolicy(Context, new LapsOptions { Estimate = RemainingEstimate.Posterior, PosteriorCapacity = 16, PosteriorNeighbours = 4 });
        for (var i = 0; i < 16; i++)
        {
            laps.OnCompleted(Request(100 + i).Predicted(10), trueLength: 100);
        }

        RequestState r = Request(1).Predicted(10);
        laps.Admit(r);

        Assert.Equal(ExecutionTimeEstimator.Total(100, 4, 0.5, 0.25), laps.EstimatedRemainingSeconds(r));
    }

    [Fact]
    public void With_the_Gittins_estimate_perceptible_requests_are_ordered_by_the_Gittins_rank_of_their_neighbourhood()
    {
        var laps = new LapsPolicy(Context, PerceptibleAfterOneStep with
        {
            Estimate = RemainingEstimate.Gittins, PosteriorCapacity = 64, PosteriorNeighbours = 32,
        });

        // Completions predicted at 10 ran 1, 1, 1 or 100 tokens: mean 25.75, Gittins rank 4/3 token (quantum of one token).
        for (var i = 0; i < 32; i++)
        {
            laps.OnCompleted(Request(100 + i).Predicted(10), trueLength: i % 4 == 3 ? 100 : 1);
        }

        RequestState r = Request(1).Predicted(10);
        laps.Admit(r);
        laps.Step(r, seconds: 0.01, emitted: 0);

        Assert.Equal(ExecutionTimeEstimator.Total(4.0 / 3, 4, 0.5, 0.25), laps.CurrentKey(r).Primary, 12);
        Assert.Equal(ExecutionTimeEstimator.Total(25.75, 4, 0.5, 0.25), laps.EstimatedRemainingSeconds(r)!.Value, 12);
    }

    private static int QueueOf(LapsPolicy laps, RequestState r)
    {
        // The queue the metrics report is the one the key holds the request in.
        Assert.Equal(laps.CurrentKey(r).Level / 2, laps.QueueLevel(r));
        return laps.QueueLevel(r);
    }

    private static bool IsPerceptibleKey(LapsPolicy laps, RequestState r) => laps.CurrentKey(r).Level % 2 == 0;
}
