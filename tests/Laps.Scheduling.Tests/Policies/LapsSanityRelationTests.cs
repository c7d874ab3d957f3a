using CsCheck;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

/// <summary>
/// docs/policies.md: tolerance 0 (never stable) makes LAPS-SD least-attained-service; tolerance ∞ with no minimum step
/// count and perfect predictions makes it SRPT on true remaining time. Checked decision by decision on random
/// scenarios (arrival gaps in steps, true lengths, acceptances, batch size), driven through <see cref="BatchScheduler"/>.
/// </summary>
public sealed class LapsSanityRelationTests
{
    private static readonly PolicyContext Context = new(K: 4, StepSeconds: 0.01, PriorAcceptance: 0.5);

    private static readonly Gen<(int Batch, int Seed, (int Gap, int Length, double Acceptance)[] Requests)> Scenarios =
        Gen.Select(Gen.Int[1, 6], Gen.Int[0, 1_000_000], Gen.Select(Gen.Int[0, 4], Gen.Int[1, 200], Gen.Double[0.05, 0.95]).Array[1, 30]);

    [Theory]
    [InlineData(LapsVariant.Paper)]
    [InlineData(LapsVariant.Perceived)]
    public void With_tolerance_zero_LAPS_selects_exactly_what_LAS_selects(LapsVariant variant)
    {
        Scenarios.Sample(
            (batch, seed, requests) =>
            {
                var laps = Trace(new LapsPolicy(Context, LapsOptions.Paper with { StabilityTolerance = 0, Variant = variant }), batch, seed, requests, StepDriver.BinomialAcceptance);
                var las = Trace(new LasPolicy(Context), batch, seed, requests, StepDriver.BinomialAcceptance);
                Assert.Equal(las, laps);
            },
            iter: 75,
            threads: 1);
    }

    [Theory]
    [InlineData(LapsVariant.Paper)]
    [InlineData(LapsVariant.Perceived)]
    public void With_infinite_tolerance_no_minimum_and_perfect_predictions_LAPS_selects_exactly_what_the_oracle_selects(LapsVariant variant)
    {
        var options = LapsOptions.Paper with { StabilityTolerance = double.PositiveInfinity, MinSteps = 0, Estimate = RemainingEstimate.Point, Variant = variant };

        // Every request accepts exactly half its drafts, the context's prior: observed acceptance is the true one.
        Scenarios.Select(s => (s.Batch, s.Seed, s.Requests.Select(r => (r.Gap, r.Length, 0.5)).ToArray())).Sample(
            (batch, seed, requests) =>
            {
                var laps = Trace(new LapsPolicy(Context, options), batch, seed, requests, StepDriver.ExactAcceptance);
                var oracle = Trace(new OracleSrptPolicy(Context), batch, seed, requests, StepDriver.ExactAcceptance);
                Assert.Equal(oracle, laps);
            },
            iter: 75,
            threads: 1);
    }

    [Fact]
    public void With_different_acceptances_the_oracle_relation_needs_the_acceptance_and_LAPS_differs_from_SRPT_on_length()
    {
        // Guards the relation above against being vacuous: LAPS with perfect predictions is not plain SRPT on tokens.
        (int, int, double)[] requests = [(0, 100, 0.9), (0, 60, 0.1)];
        var options = LapsOptions.Paper with { StabilityTolerance = double.PositiveInfinity, MinSteps = 0, Estimate = RemainingEstimate.Point };

        var laps = Trace(new LapsPolicy(Context with { PriorAcceptance = 0.5 }, options), 1, 1, requests, StepDriver.ExactAcceptance);
        var srpt = Trace(new SrptPolicy(Context), 1, 1, requests, StepDriver.ExactAcceptance);

        Assert.NotEqual(srpt, laps);
    }

    private static List<string> Trace(
        SchedulingPolicy policy, int batch, int seed, (int Gap, int Length, double Acceptance)[] requests, Func<Laps.Scheduling.Requests.RequestState, int, Random, int> acceptance)
    {
        var driver = new StepDriver(new BatchScheduler(policy, new OracleLengthPredictor(), batch), seed, acceptance);
        var step = 0L;
        for (var i = 0; i < requests.Length; i++)
        {
            step += requests[i].Gap;
            driver.Arrive(Request(i + 1).ArrivingAt(step).WithTruth(requests[i].Length, requests[i].Acceptance), atStep: step);
        }

        return [.. driver.Run().Select(r => r.ToString())];
    }
}
