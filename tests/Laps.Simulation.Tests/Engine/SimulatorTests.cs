using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Simulation.Engine;
using Laps.Simulation.Experiments;

namespace Laps.Simulation.Tests.Engine;

public sealed class SimulatorTests
{
    private static readonly StepTimeModel Model = StepTimeModel.H100Llama8B;

    [Fact]
    public void Replay_emits_min_of_acc_len_and_k_plus_one_per_step_and_costs_each_step_by_the_model()
    {
        // k = 2: p=0 emits 3 (acc 3), p=3 emits 3 (acc 5 capped), p=6 emits 2, p=8 emits 1 → 4 steps, 9 tokens.
        var request = new SimulatedRequest(0, 0, 100, [3, 1, 1, 5, 4, 3, 2, 1, 1], "t");
        var options = new SimulationOptions { K = 2 };
        var outcome = new Simulator(options).Run([request], new FcfsPolicy(new PolicyContext(2, 0.01)), new OracleLengthPredictor());

        var expected = Model.StepSeconds(ProposerKind.Eagle, 2, 1, 100, 100)   // prefill with the first step
                       + Model.StepSeconds(ProposerKind.Eagle, 2, 1, 0, 103)
                       + Model.StepSeconds(ProposerKind.Eagle, 2, 1, 0, 106)
                       + Model.StepSeconds(ProposerKind.Eagle, 2, 1, 0, 108);
        Assert.Equal(4, outcome.Steps);
        Assert.Equal(expected, outcome.Latencies[0], 12);
        Assert.Equal(Model.StepSeconds(ProposerKind.Eagle, 2, 1, 100, 100), outcome.Ttfts[0], 12);
        Assert.Equal(5.0 / 8.0, request.TrueAcceptance(2), 12);
    }

    [Fact]
    public void Same_inputs_give_identical_results()
    {
        var requests = SimulationScenario.Requests(300, seed: 7);
        var settings = new PolicySettings();
        var a = SimulationScenario.Run(requests, LapsPolicy.PolicyName, settings: settings, predictor: new NoisyOracleLengthPredictor(0.55, 1.0, new Random(3)));
        var b = SimulationScenario.Run(requests, LapsPolicy.PolicyName, settings: settings, predictor: new NoisyOracleLengthPredictor(0.55, 1.0, new Random(3)));

        Assert.Equal(a.Latencies, b.Latencies);
        Assert.Equal(a.Ttfts, b.Ttfts);
        Assert.Equal(a.Steps, b.Steps);
    }

    [Fact]
    public void At_batch_one_with_kv_kept_every_policy_does_the_same_work()
    {
        var requests = SimulationScenario.Requests(400, seed: 11, load: 0.9);
        var options = new SimulationOptions { KvCapacityTokens = long.MaxValue };
        var busy = PolicyCatalog.Names
            .Select(p => SimulationScenario.Run(requests, p, options, predictor: new NoisyOracleLengthPredictor(0.55, 1.0, new Random(5))))
            .Select(o => o.BusySeconds)
            .ToArray();

        foreach (var b in busy)
        {
            Assert.Equal(busy[0], b, 6);
        }
    }

    [Fact]
    public void Laps_with_stability_tolerance_zero_behaves_exactly_as_las()
    {
        var requests = SimulationScenario.Requests(400, seed: 13, load: 0.9);
        var neverStable = new PolicySettings { Laps = LapsOptions.Paper with { StabilityTolerance = 0 } };

        var laps = SimulationScenario.Run(requests, LapsPolicy.PolicyName, settings: neverStable);
        var las = SimulationScenario.Run(requests, LasPolicy.PolicyName);

        Assert.Equal(las.Latencies, laps.Latencies);
        Assert.Null(laps.EstimateMape);
    }

    [Theory]
    [InlineData(LapsVariant.Paper)]
    [InlineData(LapsVariant.Perceived)]
    public void Laps_always_perceptible_with_perfect_predictions_is_within_one_percent_of_oracle_srpt(LapsVariant variant)
    {
        // Perfect predictions: lengths from the oracle predictor; every request has the same acceptance, which the
        // prior states with enough weight that step noise does not move Â (with the plain cumulative rate, Â's
        // early noise alone costs about 2% here).
        var requests = SimulationScenario.Requests(600, seed: 17, load: 0.9, alphaSpread: 0);
        var alwaysStable = new PolicySettings
        {
            Laps = LapsOptions.Paper with { Variant = variant, StabilityTolerance = double.PositiveInfinity, MinSteps = 0, AcceptancePriorSteps = 1000 },
        };

        var laps = SimulationScenario.Run(requests, LapsPolicy.PolicyName, settings: alwaysStable);
        var oracle = SimulationScenario.Run(requests, OracleSrptPolicy.PolicyName);

        var ratio = laps.Latencies.Average() / oracle.Latencies.Average();
        Assert.InRange(ratio, 0.99, 1.01);
    }

    [Fact]
    public void A_small_kv_cache_forces_recompute_of_evicted_sequences()
    {
        var requests = SimulationScenario.Requests(300, seed: 19, load: 0.95);
        var roomy = SimulationScenario.Run(requests, LasPolicy.PolicyName, new SimulationOptions { KvCapacityTokens = long.MaxValue });
        var tight = SimulationScenario.Run(requests, LasPolicy.PolicyName, new SimulationOptions { KvCapacityTokens = 5_000 });

        Assert.Equal(0, roomy.RecomputedTokens);
        Assert.True(tight.RecomputedTokens > 0);
        Assert.True(tight.BusySeconds > roomy.BusySeconds);
    }

    [Fact]
    public void Recompute_on_resume_charges_preemptive_policies_and_not_fcfs()
    {
        var requests = SimulationScenario.Requests(300, seed: 23, load: 0.9);
        var options = new SimulationOptions { Resume = ResumeMode.Recompute, KvCapacityTokens = long.MaxValue };

        Assert.Equal(0, SimulationScenario.Run(requests, FcfsPolicy.PolicyName, options).RecomputedTokens);
        Assert.True(SimulationScenario.Run(requests, MlfqPolicy.PolicyName, options).RecomputedTokens > 0);
    }

    [Fact]
    public void Every_request_finishes_after_it_arrives_and_gets_its_first_token_no_later()
    {
        var requests = SimulationScenario.Requests(200, seed: 29);
        foreach (var policy in PolicyCatalog.Names)
        {
            var outcome = SimulationScenario.Run(requests, policy, new SimulationOptions { Batch = 4 });
            Assert.All(outcome.Latencies, l => Assert.True(l > 0));
            Assert.All(outcome.Latencies.Zip(outcome.Ttfts), x => Assert.True(x.Second <= x.First));
        }
    }

    [Fact]
    public void A_learning_predictor_sees_the_prompt_ids_of_the_workload()
    {
        // Prompt [1, 1] always answers with 200 tokens, prompt [2, 2] with 4; a burst of alternating requests, one at a
        // time. SJF on the online predictor learns from the first completions to run the short ones first, but only
        // when the simulator hands it the prompt ids.
        static SimulatedRequest[] Burst(bool withIds) => [.. Enumerable.Range(0, 60).Select(i =>
        {
            var isLong = i % 2 == 0;
            int[] prompt = isLong ? [1, 1] : [2, 2];
            return new SimulatedRequest(i, i < 6 ? i * 10.0 : 60, 2, Enumerable.Repeat(1, isLong ? 200 : 4).ToArray(), "t", withIds ? prompt : null);
        })];
        var context = new PolicyContext(4, 0.01);

        var informed = new Simulator(new SimulationOptions()).Run(Burst(withIds: true), new SjfPolicy(context), new OnlineLengthPredictor());
        var blind = new Simulator(new SimulationOptions()).Run(Burst(withIds: false), new SjfPolicy(context), new OnlineLengthPredictor());

        Assert.True(informed.Latencies.Average() < 0.8 * blind.Latencies.Average(), $"{informed.Latencies.Average()} vs {blind.Latencies.Average()}");
    }
}
