using Laps.Scheduling.Policies;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

/// <summary>What the product default adds to the paper's structure (each measured in docs/evaluation.md).</summary>
public sealed class LapsProductDefaultTests
{
    private static readonly PolicyContext Context = PolicyTestExtensions.Context(stepSeconds: 0.25, k: 4, prior: 0.5);

    [Fact]
    public void Reserved_top_queue_lets_a_newcomer_run_before_a_perceptible_request_with_a_tiny_estimate()
    {
        var options = new LapsOptions { StabilityTolerance = double.PositiveInfinity, MinSteps = 1, Estimate = RemainingEstimate.Point };
        var laps = new LapsPolicy(Context, options);
        RequestState almostDone = Request(1).ArrivingAt(0).Predicted(3);
        laps.Admit(almostDone);
        laps.Step(almostDone);
        Assert.True(almostDone.Perceptible);

        RequestState newcomer = Request(2).ArrivingAt(1).Predicted(500);
        laps.Admit(newcomer);

        Assert.Equal([2L], laps.SelectIds(1));
    }

    [Fact]
    public void Without_the_reserved_top_queue_the_tiny_estimate_runs_first()
    {
        var options = new LapsOptions { StabilityTolerance = double.PositiveInfinity, MinSteps = 1, Estimate = RemainingEstimate.Point, ReserveTopQueue = false };
        var laps = new LapsPolicy(Context, options);
        RequestState almostDone = Request(1).ArrivingAt(0).Predicted(3);
        laps.Admit(almostDone);
        laps.Step(almostDone);

        laps.Admit(Request(2).ArrivingAt(1).Predicted(500));

        Assert.Equal([1L], laps.SelectIds(1));
    }

    [Fact]
    public void Past_its_first_quantum_a_request_not_yet_stable_is_ordered_by_its_prediction()
    {
        // Never stable, θ0 = 1 step: after one step both requests left the top queue.
        var options = new LapsOptions { StabilityTolerance = 0, Theta0Steps = 1, Estimate = RemainingEstimate.Point };
        var laps = new LapsPolicy(Context, options);
        RequestState longOne = Request(1).ArrivingAt(0).Predicted(2000);
        RequestState shortOne = Request(2).ArrivingAt(1).Predicted(40);
        laps.Admit(longOne);
        laps.Admit(shortOne);
        laps.Step(longOne);
        laps.Step(shortOne, steps: 2); // more attained service: LAS would pick the long one

        Assert.False(shortOne.Perceptible);
        Assert.Equal([2L], laps.SelectIds(1));
    }

    [Fact]
    public void Without_prediction_before_stability_the_same_requests_are_ordered_by_attained_service()
    {
        var options = new LapsOptions { StabilityTolerance = 0, Theta0Steps = 1, Estimate = RemainingEstimate.Point, PredictBeforeStable = false };
        var laps = new LapsPolicy(Context, options);
        RequestState longOne = Request(1).ArrivingAt(0).Predicted(2000);
        RequestState shortOne = Request(2).ArrivingAt(1).Predicted(40);
        laps.Admit(longOne);
        laps.Admit(shortOne);
        laps.Step(longOne);
        laps.Step(shortOne, steps: 2);

        Assert.Equal([1L], laps.SelectIds(1));
    }

    [Theory]
    [InlineData(0.0, 2L)]  // KV kept: resuming is free, the shorter challenger takes the slot
    [InlineData(5.0, 1L)]  // resuming would cost 5 s, more than the 1.7 s the challenger is ahead: no preemption
    public void A_running_request_is_preempted_only_when_the_gain_exceeds_its_resume_cost(double resumeCost, long expected)
    {
        var options = new LapsOptions { StabilityTolerance = double.PositiveInfinity, MinSteps = 1, Estimate = RemainingEstimate.Point };
        var laps = new LapsPolicy(Context, options);
        RequestState running = Request(1).ArrivingAt(0).Predicted(300);
        RequestState challenger = Request(2).ArrivingAt(1).Predicted(280);
        laps.Admitting(running, challenger);
        laps.Step(running);
        laps.Step(challenger);

        running.ResumeCostSeconds = resumeCost;
        running.Running = true;
        laps.RunningChanged(running);

        Assert.Equal([expected], laps.SelectIds(1));
    }

    [Theory]
    [InlineData(0, 0, 0.5)]      // nothing drafted: the prior
    [InlineData(4, 4, 0.75)]     // 4 of 4 accepted, 4 prior drafts at 0.5: (4 + 2) / 8
    [InlineData(40, 0, 0.0455)]  // evidence outweighs the prior: 2 / 44
    public void Shrunk_acceptance_weighs_the_prior_as_pseudo_drafts(int drafted, int accepted, double expected)
    {
        var tracker = new Laps.Scheduling.Acceptance.AcceptanceTracker();
        if (drafted > 0)
        {
            tracker.Record(drafted, accepted);
        }

        Assert.Equal(expected, tracker.Rate(prior: 0.5, priorDrafts: 4), 4);
    }
}
