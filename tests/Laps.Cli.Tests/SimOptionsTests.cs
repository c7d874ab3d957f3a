using Laps.Cli.Commands;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Simulation.Experiments;

namespace Laps.Cli.Tests;

public sealed class SimOptionsTests : IDisposable
{
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    private ExperimentSpec SpecOf(params string[] args)
    {
        var cli = new Cli();
        var (exitCode, _, stderr) = cli.Run(["sim", "--out", _out.Path, .. args]);
        Assert.True(exitCode == 0, stderr);
        return Assert.IsType<ExperimentSpec>(cli.Spec);
    }

    [Fact]
    public void Tenants_skew_and_the_fair_share_switch_reach_the_study()
    {
        var spec = SpecOf("--tenants", "3", "--tenant-skew", "0.5", "--fair-share", "off");
        var defaults = SpecOf();

        Assert.Equal((3, 0.5, false), (spec.Tenants, spec.TenantSkew, spec.FairShare));
        Assert.Equal((1, 1.0, true), (defaults.Tenants, defaults.TenantSkew, defaults.FairShare));
    }

    [Theory]
    [InlineData("--tenants", "0", "--tenants: '0' is out of range")]
    [InlineData("--tenant-skew", "-1", "--tenant-skew: '-1' is out of range")]
    [InlineData("--fair-share", "maybe", "--fair-share: unknown value 'maybe'")]
    public void Bad_tenant_options_are_refused_naming_them(string option, string value, string message)
    {
        var (exitCode, _, stderr) = new Cli().Run("sim", "--out", _out.Path, option, value);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_table_by_tenant_pools_seeds_weighting_means_by_requests()
    {
        static RunResult Run(int seed, double t0, double t1) => new()
        {
            Policy = "laps", Workload = "w", Proposer = "eagle", Arrivals = "poisson", Load = 0.9, Batch = 4, Seed = seed, Requests = 4,
            MeanLatencySeconds = ((3 * t0) + t1) / 4, P50LatencySeconds = 0, P99LatencySeconds = 0, MeanTtftSeconds = 0, PreemptionsPerRequest = 0,
            EstimateMape = null, Predictor = "p", ArrivalRate = 1, P99TtftSeconds = 0, BusySeconds = 0, MakespanSeconds = 0, Steps = 0, RecomputedTokens = 0,
            FairShare = true,
            Tenants =
            [
                new TenantResult { Tenant = "t0", Requests = 3, MeanLatencySeconds = t0, P99LatencySeconds = 2 * t0, MeanTtftSeconds = 0 },
                new TenantResult { Tenant = "t1", Requests = 1, MeanLatencySeconds = t1, P99LatencySeconds = 2 * t1, MeanTtftSeconds = 0 },
            ],
        };

        var rows = Laps.Cli.Reports.TenantTable.Rows([Run(1, 1, 5), Run(2, 3, 1)]);

        Assert.Equal(["t0", "t1"], rows.Select(r => r.Tenant));
        Assert.Equal((6, 2.0, 4.0), (rows[0].Requests, rows[0].MeanLatency, rows[0].P99Latency));
        Assert.Equal((2, 3.0, 6.0), (rows[1].Requests, rows[1].MeanLatency, rows[1].P99Latency));
        Assert.Equal(2.25, rows[0].AllMeanLatency, 9);
    }

    [Fact]
    public void No_options_give_the_documented_defaults()
    {
        var spec = SpecOf();

        Assert.Equal(SimCommand.DefaultWorkload, spec.Workload);
        Assert.Equal(ProposerKind.Eagle, spec.Proposer);
        Assert.Equal(4, spec.K);
        Assert.Equal("poisson", spec.Arrivals);
        Assert.Equal([0.85], spec.Loads);
        Assert.Equal([1], spec.Batches);
        Assert.Equal(PolicyCatalog.Names, spec.Policies);
        Assert.Equal(2000, spec.Requests);
        Assert.Equal(3, spec.Seeds);
        Assert.Equal(1, spec.FirstSeed);
        Assert.Equal(0.55, spec.PredictorTau);
        Assert.Equal(ResumeMode.Keep, spec.Resume);
        Assert.Equal(Environment.ProcessorCount, spec.Parallelism);
        Assert.Equal(new LapsOptions(), spec.PolicySettings.Laps);
        Assert.Equal(new MlfqOptions(), spec.PolicySettings.Mlfq);
        Assert.Null(spec.PolicySettings.PredictedLengthGuard);
    }

    [Fact]
    public void Lists_split_on_commas_and_accumulate_over_repeats()
    {
        var spec = SpecOf("--load", "0.5, 0.7,0.9", "--load", "1.1", "--batch", "1,8,32", "--policies", "fcfs,laps");

        Assert.Equal([0.5, 0.7, 0.9, 1.1], spec.Loads);
        Assert.Equal([1, 8, 32], spec.Batches);
        Assert.Equal(["fcfs", "laps"], spec.Policies);
    }

    [Fact]
    public void Rates_replace_loads_and_the_online_predictor_is_chosen_by_name()
    {
        var spec = SpecOf("--rate", "0.25,1.5", "--predictor", "online");

        Assert.Equal([0.25, 1.5], spec.Rates);
        Assert.Equal(2, spec.Levels);
        Assert.Equal(LengthPredictorKind.Online, spec.Predictor);
    }

    [Fact]
    public void A_step_overhead_adds_to_the_step_models_fixed_cost()
    {
        var spec = SpecOf("--step-overhead", "0.0025");

        Assert.Equal(new ExperimentSpec { Workload = "x" }.StepTime.OverheadSeconds + 0.0025, spec.StepTime.OverheadSeconds, 12);
        Assert.Equal(new ExperimentSpec { Workload = "x" }.StepTime with { OverheadSeconds = 0 }, spec.StepTime with { OverheadSeconds = 0 });
    }

    [Fact]
    public void Without_rates_the_loads_rule_and_the_predictor_is_the_noisy_oracle()
    {
        var spec = SpecOf();

        Assert.Null(spec.Rates);
        Assert.Equal(LengthPredictorKind.NoisyOracle, spec.Predictor);
    }

    [Fact]
    public void Scalars_map_to_the_spec()
    {
        var spec = SpecOf(
            "--workload", "a.jsonl:2,b.jsonl", "--proposer", "draft", "--k", "6", "--arrivals", "gamma:2",
            "--requests", "500", "--seeds", "5", "--seed", "11", "--predictor-tau", "0.8", "--parallel", "3",
            "--kv-capacity", "123456", "--resume", "recompute");

        Assert.Equal("a.jsonl:2,b.jsonl", spec.Workload);
        Assert.Equal(ProposerKind.DraftModel, spec.Proposer);
        Assert.Equal(6, spec.K);
        Assert.Equal("gamma:2", spec.Arrivals);
        Assert.Equal(500, spec.Requests);
        Assert.Equal(5, spec.Seeds);
        Assert.Equal(11, spec.FirstSeed);
        Assert.Equal(0.8, spec.PredictorTau);
        Assert.Equal(3, spec.Parallelism);
        Assert.Equal(123456, spec.KvCapacityTokens);
        Assert.Equal(ResumeMode.Recompute, spec.Resume);
    }

    [Theory]
    [InlineData("eagle", ProposerKind.Eagle)]
    [InlineData("ngram", ProposerKind.Ngram)]
    [InlineData("draft", ProposerKind.DraftModel)]
    [InlineData("NGRAM", ProposerKind.Ngram)]
    public void Proposer_names_map_to_kinds(string name, ProposerKind kind)
        => Assert.Equal(kind, SpecOf("--proposer", name).Proposer);

    [Fact]
    public void Predictor_tau_oracle_means_no_tau()
        => Assert.Null(SpecOf("--predictor-tau", "oracle").PredictorTau);

    [Theory]
    [InlineData("inf")]
    [InlineData("Infinity")]
    public void Laps_tolerance_inf_is_positive_infinity(string value)
        => Assert.Equal(double.PositiveInfinity, SpecOf("--laps-tolerance", value).PolicySettings.Laps.StabilityTolerance);

    [Fact]
    public void Laps_knobs_map_to_laps_options()
    {
        var laps = SpecOf(
            "--laps-variant", "paper", "--laps-estimate", "point", "--laps-queues", "6", "--laps-theta0", "4.5",
            "--laps-ratio", "3", "--laps-window", "7", "--laps-tolerance", "0", "--laps-min-steps", "0",
            "--laps-demote", "--laps-aging").PolicySettings.Laps;

        Assert.Equal(LapsVariant.Paper, laps.Variant);
        Assert.Equal(RemainingEstimate.Point, laps.Estimate);
        Assert.Equal(6, laps.Queues);
        Assert.Equal(4.5, laps.Theta0Steps);
        Assert.Equal(3, laps.Ratio);
        Assert.Equal(7, laps.StabilityWindow);
        Assert.Equal(0, laps.StabilityTolerance);
        Assert.Equal(0, laps.MinSteps);
        Assert.True(laps.DemoteAfterPerceptible);
        Assert.Equal(new StarvationGuard(), laps.Aging);
    }

    [Fact]
    public void Laps_variant_paper_is_the_whole_literal_reading()
        => Assert.Equal(LapsOptions.Paper, SpecOf("--laps-variant", "paper").PolicySettings.Laps);

    [Fact]
    public void Product_knobs_map_to_laps_options()
    {
        var laps = SpecOf(
            "--laps-conditioning", "neighbours", "--laps-reserve-top", "off", "--laps-predict-early", "off",
            "--laps-acceptance-prior", "0", "--laps-cost-aware", "off").PolicySettings.Laps;

        Assert.Equal(new LapsOptions
        {
            Conditioning = PosteriorConditioning.Neighbours, ReserveTopQueue = false, PredictBeforeStable = false, AcceptancePriorSteps = 0,
            CostAwarePreemption = false,
        }, laps);
    }

    [Fact]
    public void Unset_laps_knobs_keep_the_library_defaults()
    {
        var laps = SpecOf("--laps-queues", "2").PolicySettings.Laps;

        Assert.Equal(new LapsOptions() with { Queues = 2 }, laps);
    }

    [Fact]
    public void Every_knob_of_the_table_is_an_option_with_its_defaults_unless_given()
    {
        var settings = SpecOf(
            "--laps-posterior-capacity", "512", "--laps-posterior-neighbours", "16", "--mlfq-ratio", "3", "--mlfq-starvation-guard", "on",
            "--laps-demote", "off").PolicySettings;

        Assert.Equal(new LapsOptions { PosteriorCapacity = 512, PosteriorNeighbours = 16 }, settings.Laps);
        Assert.Equal(new MlfqOptions { Ratio = 3, Starvation = new StarvationGuard() }, settings.Mlfq);
    }

    [Fact]
    public void Mlfq_knobs_and_the_starvation_guard_map_to_policy_settings()
    {
        var settings = SpecOf("--mlfq-levels", "3", "--mlfq-quantum", "1.5", "--starvation-guard").PolicySettings;

        Assert.Equal(3, settings.Mlfq.Levels);
        Assert.Equal(1.5, settings.Mlfq.BaseQuantumSteps);
        Assert.Equal(new StarvationGuard(), settings.PredictedLengthGuard);
    }
}
