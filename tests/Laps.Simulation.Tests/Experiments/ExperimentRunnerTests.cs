using Laps.Simulation.Experiments;

namespace Laps.Simulation.Tests.Experiments;

public sealed class ExperimentRunnerTests
{
    private static ExperimentSpec Small(int parallelism) => new()
    {
        Workload = "gsm8k",
        Requests = 150,
        Seeds = 2,
        Loads = [0.5, 0.9],
        Batches = [1, 4],
        Parallelism = parallelism,
    };

    [Fact]
    public void The_same_spec_gives_identical_results_whatever_the_parallelism()
    {
        var serial = new ExperimentRunner(Small(1)).Run();
        var parallel = new ExperimentRunner(Small(2)).Run();

        Assert.Equal(serial.Count, parallel.Count);
        for (var i = 0; i < serial.Count; i++)
        {
            Assert.Equal(serial[i] with { Latencies = [] }, parallel[i] with { Latencies = [] });
            Assert.Equal(serial[i].Latencies, parallel[i].Latencies);
        }
    }

    [Fact]
    public void Every_policy_runs_on_every_load_batch_and_seed()
    {
        var results = new ExperimentRunner(Small(2)).Run();

        Assert.Equal(2 * 2 * 2 * 7, results.Count);
        Assert.Equal(results.Count, results.Select(r => (r.Policy, r.Load, r.Batch, r.Seed)).Distinct().Count());
    }

    [Fact]
    public void Policies_of_one_cell_see_the_same_arrivals_and_higher_load_means_a_higher_rate()
    {
        var results = new ExperimentRunner(Small(2)).Run();

        foreach (var cell in results.GroupBy(r => (r.Load, r.Batch, r.Seed)))
        {
            Assert.Single(cell.Select(r => r.ArrivalRate).Distinct());
        }

        foreach (var g in results.Where(r => r.Policy == "fcfs").GroupBy(r => (r.Batch, r.Seed)))
        {
            var byLoad = g.OrderBy(r => r.Load).ToList();
            Assert.True(byLoad[1].ArrivalRate > byLoad[0].ArrivalRate);
            Assert.True(byLoad[1].MeanLatencySeconds > byLoad[0].MeanLatencySeconds);
        }
    }

    [Fact]
    public void Only_laps_reports_an_estimate_error()
    {
        var results = new ExperimentRunner(Small(2)).Run();

        Assert.All(results.Where(r => r.Policy != "laps"), r => Assert.Null(r.EstimateMape));
        Assert.All(results.Where(r => r.Policy == "laps"), r => Assert.NotNull(r.EstimateMape));
    }

    [Theory]
    [InlineData("no-such-profile")]
    [InlineData("gsm8k:-1")]
    public void A_bad_workload_is_rejected_with_its_name(string workload)
    {
        var ex = Assert.ThrowsAny<FormatException>(() => new ExperimentRunner(Small(1) with { Workload = workload }));
        Assert.Contains(workload.Split(':')[0], ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absolute_rates_replace_loads_and_report_the_load_they_amount_to()
    {
        var spec = Small(2) with { Loads = [0.5], Rates = [0.4, 0.8], Seeds = 1, Batches = [4], Policies = ["fcfs"] };

        var results = new ExperimentRunner(spec).Run();

        Assert.Equal([0.4, 0.8], results.Select(r => r.ArrivalRate));
        Assert.Equal(2, results.Select(r => r.Load).Distinct().Count());
        Assert.Equal(2.0, results[1].Load / results[0].Load, 9);
    }

    [Fact]
    public void A_rate_gives_the_arrivals_of_the_load_it_amounts_to()
    {
        var byLoad = new ExperimentRunner(Small(1) with { Loads = [0.7], Seeds = 1, Batches = [4], Policies = ["sjf"] }).Run().Single();

        var byRate = new ExperimentRunner(Small(1) with { Rates = [byLoad.ArrivalRate], Seeds = 1, Batches = [4], Policies = ["sjf"] }).Run().Single();

        Assert.Equal(byLoad with { Latencies = [] }, byRate with { Latencies = [] });
    }

    [Fact]
    public void The_online_predictor_learns_from_prompt_ids_and_is_named_in_the_results()
    {
        // Trace-shaped entries with prompt ids: a prompt's first token announces a long or a short answer.
        var spec = Small(1) with { Seeds = 1, Batches = [1], Loads = [0.9], Policies = ["sjf"], Predictor = LengthPredictorKind.Online };

        var online = new ExperimentRunner(spec).Run().Single();
        var noisy = new ExperimentRunner(spec with { Predictor = LengthPredictorKind.NoisyOracle }).Run().Single();

        Assert.Equal("online", online.Predictor);
        Assert.StartsWith("tau=", noisy.Predictor, StringComparison.Ordinal);
        Assert.NotEqual(noisy.MeanLatencySeconds, online.MeanLatencySeconds);
    }

    [Fact]
    public void A_load_is_of_the_whole_pool_measured_with_its_workers_and_a_rate_stays_absolute()
    {
        var spec = Small(1) with { Loads = [0.7], Seeds = 1, Batches = [4], Policies = ["fcfs"] };

        var one = new ExperimentRunner(spec).Run().Single();
        var pool = new ExperimentRunner(spec with { Workers = 3 }).Run().Single();
        var rate = new ExperimentRunner(spec with { Workers = 3, Rates = [one.ArrivalRate] }).Run().Single();

        // The pool's FCFS saturation is measured with its 3 workers: about 3 times one worker's.
        Assert.Equal((1, 3, 3), (one.Workers, pool.Workers, rate.Workers));
        Assert.InRange(pool.ArrivalRate / one.ArrivalRate, 2.7, 3.15);
        Assert.Equal(one.ArrivalRate, rate.ArrivalRate);
        Assert.InRange(rate.Load * 3, 0.7 * 0.9, 0.7 * 1.05);
        Assert.True(rate.MeanLatencySeconds < one.MeanLatencySeconds);
    }

    [Fact]
    public void A_pool_needs_a_worker()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new ExperimentRunner(Small(1) with { Workers = 0 }));
}
