using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

/// <summary>
/// The LTR starvation guard, on batch 1 with a long request (id 1000) that the policy always ranks last. Two ways
/// to starve it: "competitor", one request predicted short that never finishes (SRPT floors it at one token, SJF
/// never preempts it); "stream", a one-token request arriving every step (what starves it under MLFQ and LAPS).
/// The stream is critical load, so the horizon stays short enough that the stream's own backlog never starves.
/// </summary>
public sealed class StarvationGuardTests
{
    private const int IdleSteps = 10;
    private const int BoostSteps = 2;
    private const int Decisions = 45;
    private const long Long = 1000;

    public static TheoryData<string, string> Starving() => new()
    {
        { SjfPolicy.PolicyName, "competitor" },
        { SrptPolicy.PolicyName, "competitor" },
        { SrptPolicy.PolicyName, "stream" },
        { MlfqPolicy.PolicyName, "stream" },
        { LapsPolicy.PolicyName, "stream" },
    };

    [Theory]
    [MemberData(nameof(Starving))]
    public void Without_a_guard_the_long_request_starves(string policy, string scenario)
    {
        var selections = DecisionsThatRanTheLongRequest(policy, scenario, guard: null);

        Assert.True(selections.Count == 0 || selections[^1] < Decisions - 20, $"long request ran at [{string.Join(',', selections)}]");
    }

    [Theory]
    [MemberData(nameof(Starving))]
    public void A_request_idle_for_IdleSteps_decisions_is_selected_at_that_decision(string policy, string scenario)
    {
        var selections = DecisionsThatRanTheLongRequest(policy, scenario, new StarvationGuard(IdleSteps, BoostSteps));

        // Admitted before decision 1, so decision 0 counts as its last service.
        var gaps = selections.Prepend(0).Zip(selections, (before, after) => after - before);
        Assert.All(gaps, gap => Assert.InRange(gap, 1, IdleSteps));
        Assert.InRange(Decisions - selections[^1], 0, IdleSteps - 1);
    }

    [Fact]
    public void A_boost_lasts_BoostSteps_decisions()
    {
        var selections = DecisionsThatRanTheLongRequest(SrptPolicy.PolicyName, "competitor", new StarvationGuard(IdleSteps, BoostSteps));

        // Idle since decision 0: boosted for decisions 10 and 11; idle again from 12, boosted at 21; and so on.
        Assert.Equal([10L, 11L, 21L, 22L, 32L, 33L], selections.Take(6));
    }

    [Fact]
    public void A_boosted_request_that_cannot_run_returns_to_its_own_priority_when_the_boost_ends()
    {
        var srpt = new SrptPolicy(PolicyTestExtensions.Context(), new StarvationGuard(IdleSteps: 3, BoostSteps: 1));
        RequestState longOne = Request(1).Predicted(1000), shortOne = Request(2).Predicted(10);
        srpt.Admitting(longOne, shortOne);
        srpt.SelectIds(1);
        srpt.SelectIds(1);
        srpt.SelectIds(1, skip: r => r == longOne); // held by another worker's step: it cannot take its boost at decision 3

        Assert.Equal([2L], srpt.SelectIds(1));
    }

    [Fact]
    public void A_starving_request_is_boosted_again_if_its_boost_did_not_get_it_a_slot()
    {
        var srpt = new SrptPolicy(PolicyTestExtensions.Context(), new StarvationGuard(IdleSteps: 3, BoostSteps: 1));
        RequestState longOne = Request(1).Predicted(1000), shortOne = Request(2).Predicted(10);
        srpt.Admitting(longOne, shortOne);
        for (var d = 1; d <= 5; d++)
        {
            srpt.SelectIds(1, skip: r => r == longOne);
        }

        // Boosted at decision 3 (idle 3), expired at 4, boosted again at 6 (idle 3 since its last boost).
        Assert.Equal([1L], srpt.SelectIds(1));
    }

    private static List<long> DecisionsThatRanTheLongRequest(string policy, string scenario, StarvationGuard? guard)
    {
        var settings = new PolicySettings
        {
            PredictedLengthGuard = guard,
            Mlfq = new MlfqOptions { Starvation = guard },
            Laps = new LapsOptions { Aging = guard },
        };
        var context = PolicyTestExtensions.Context(stepSeconds: 0.01);
        var scheduler = new BatchScheduler(PolicyCatalog.Create(policy, context, settings), new FixedPredictor(), maxBatch: 1);
        var driver = new StepDriver(scheduler);
        if (scenario == "competitor")
        {
            driver.Arrive(Request(1).ArrivingAt(0).WithTruth(1_000_000), atStep: 0);
        }
        else
        {
            for (var step = 0; step < Decisions; step++)
            {
                driver.Arrive(Request(step + 1).ArrivingAt(step).WithTruth(1), atStep: step);
            }
        }

        driver.Arrive(Request(Long).ArrivingAt(0.5).WithTruth(1_000_000), atStep: 0);
        var records = Enumerable.Range(0, Decisions).Select(_ => driver.Step()).ToList();
        return [.. records.Where(r => r.Selected.Contains(Long)).Select(r => r.Step + 1)];
    }

    /// <summary>The long request is predicted long, every other one short.</summary>
    private sealed class FixedPredictor : ILengthPredictor
    {
        public string Name => "fixed";

        public double Predict(RequestState request) => request.Id == Long ? 10_000 : 10;
    }
}
