using Laps.Scheduling.Policies;
using Laps.Simulation.Engine;
using Laps.Simulation.Experiments;

namespace Laps.Simulation.Tests.Engine;

public sealed class PoolSimulationTests
{
    // One worker at 2.5× its batch-1 capacity (so batch 4 queues and preempts), with the three KV regimes.
    private static readonly IReadOnlyList<SimulatedRequest> Busy = SimulationScenario.Requests(300, seed: 41, load: 2.5);

    public static TheoryData<string, string> Configurations()
    {
        var data = new TheoryData<string, string>();
        foreach (var policy in PolicyCatalog.Names)
        {
            data.Add(policy, "b4");
        }

        data.Add(LasPolicy.PolicyName, "kv");
        data.Add(LapsPolicy.PolicyName, "kv");
        data.Add(MlfqPolicy.PolicyName, "recompute");
        data.Add(LapsPolicy.PolicyName, "recompute");
        return data;
    }

    private static SimulationOptions Options(string configuration, int workers = 1) => configuration switch
    {
        "kv" => new SimulationOptions { Batch = 4, KvCapacityTokens = 2_000, Workers = workers },
        "recompute" => new SimulationOptions { Batch = 2, Resume = ResumeMode.Recompute, KvCapacityTokens = 20_000, Workers = workers },
        _ => new SimulationOptions { Batch = 4, Workers = workers },
    };

    // Recorded from the single-worker simulator before it drove a pool: one worker must reproduce it exactly (the
    // tolerance only absorbs last-digit differences of Math.Exp/Log in the scenario across platforms).
    [Theory]
    [InlineData("fcfs/b4", 83017.22654833796, 233.8738111775192, 5462L, 0L, 53.85739372810013, 53.916150750058556, 0)]
    [InlineData("mlfq/b4", 67715.63863771335, 5.337613069611835, 5876L, 0L, 57.678613728100075, 57.73737075005849, 1.1766666666666667)]
    [InlineData("las/b4", 50971.29133727469, 5.349071207722983, 6148L, 0L, 60.189173728100144, 60.24793075005854, 7.056666666666667)]
    [InlineData("sjf/b4", 52806.17687217655, 111.74169110442415, 5876L, 0L, 57.678613728100075, 57.7373707500585, 0)]
    [InlineData("srpt/b4", 42272.79519066139, 19.962999797404837, 6230L, 0L, 60.94603372809986, 61.00479075005826, 0.5533333333333333)]
    [InlineData("laps/b4", 42237.28303655682, 5.4185892108016525, 6200L, 0L, 60.669133728099894, 60.72789075005829, 0.8733333333333333)]
    [InlineData("oracle/b4", 41879.13826389067, 16.425495490400426, 6229L, 0L, 60.9368037280999, 60.9955607500583, 0.5566666666666666)]
    [InlineData("las/kv", 197629.9903891823, 6.343737753915598, 5890L, 1619506L, 91.81745972809979, 91.87621675005819, 14.533333333333333)]
    [InlineData("laps/kv", 42736.466673481336, 5.371685790301886, 6234L, 10171L, 61.19654472809988, 61.255301750058294, 0.85)]
    [InlineData("mlfq/recompute", 1075135.0964534828, 5.438542141408684, 9924L, 174001L, 98.69567472810043, 98.75443175005886, 2.7)]
    [InlineData("laps/recompute", 323630.0966320982, 5.39446633322215, 10579L, 104095L, 103.27329872809942, 103.33205575005785, 1.9366666666666668)]
    public void One_worker_reproduces_the_single_worker_simulator(
        string run, double weightedLatencies, double ttfts, long steps, long recomputed, double busy, double makespan, double preemptions)
    {
        var (policy, configuration) = (run.Split('/')[0], run.Split('/')[1]);

        var outcome = SimulationScenario.Run(Busy, policy, Options(configuration));

        // Latencies weighted by request index: equal only if each request kept its own latency.
        Assert.Equal(weightedLatencies, outcome.Latencies.Select((l, i) => l * (i + 1)).Sum(), Relative(weightedLatencies));
        Assert.Equal(ttfts, outcome.Ttfts.Sum(), Relative(ttfts));
        Assert.Equal(steps, outcome.Steps);
        Assert.Equal(recomputed, outcome.RecomputedTokens);
        Assert.Equal(busy, outcome.BusySeconds, Relative(busy));
        Assert.Equal(makespan, outcome.MakespanSeconds, Relative(makespan));
        Assert.Equal(preemptions, outcome.MeanPreemptions, 1e-12);
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void A_pool_is_deterministic_for_a_seed(string policy, string configuration)
    {
        var requests = SimulationScenario.Requests(300, seed: 43, load: 6);
        var first = new List<SimulatedStep>();
        var second = new List<SimulatedStep>();

        var a = Run(requests, policy, Options(configuration, workers: 3), first.Add);
        var b = Run(requests, policy, Options(configuration, workers: 3), second.Add);

        Assert.Equal(a.Latencies, b.Latencies);
        Assert.Equal(a.Ttfts, b.Ttfts);
        Assert.Equal((a.Steps, a.RecomputedTokens, a.BusySeconds, a.MakespanSeconds), (b.Steps, b.RecomputedTokens, b.BusySeconds, b.MakespanSeconds));
        Assert.Equal(first.Count, second.Count);
        Assert.All(first.Zip(second), x => Assert.Equal(Describe(x.First), Describe(x.Second)));
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void A_request_is_never_in_two_batches_at_once_and_a_worker_runs_one_step_at_a_time(string policy, string configuration)
    {
        var requests = SimulationScenario.Requests(300, seed: 47, load: 6);
        var steps = new List<SimulatedStep>();

        var outcome = Run(requests, policy, Options(configuration, workers: 3), steps.Add);

        foreach (var worker in steps.GroupBy(s => s.Worker))
        {
            AssertSequential(worker.Select(s => (s.Start, s.End)));
        }

        foreach (var request in steps.SelectMany(s => s.Batch.Select(r => (Request: r, s.Start, s.End))).GroupBy(x => x.Request))
        {
            AssertSequential(request.Select(x => (x.Start, x.End)));
            Assert.True(request.Max(x => x.End) <= requests[request.Key].ArrivalTime + outcome.Latencies[request.Key] + 1e-9);
        }

        Assert.All(steps, s => Assert.InRange(s.Batch.Count, 1, Options(configuration).Batch));
        Assert.Equal(3, steps.Select(s => s.Worker).Distinct().Count());
    }

    [Theory]
    [InlineData("las")]
    [InlineData("laps")]
    [InlineData("mlfq")]
    [InlineData("srpt")]
    public void A_preempted_request_moves_only_into_a_slot_nothing_else_fills(string policy)
    {
        var requests = SimulationScenario.Requests(300, seed: 53, load: 6);
        var steps = new List<SimulatedStep>();

        Run(requests, policy, new SimulationOptions { Batch = 2, Workers = 3 }, steps.Add);

        var moves = steps.Where(s => s.Moved.Count > 0).ToList();
        Assert.NotEmpty(moves); // the scenario does exercise moves
        foreach (var step in moves)
        {
            // Nothing the worker could run without a move was left waiting: no new request, none whose KV it holds.
            Assert.DoesNotContain(step.Waiting, w => w.KvOn is null || w.KvOn == step.Worker);
            Assert.All(step.Moved, m => Assert.NotEqual(step.Worker, m.From));
            Assert.All(step.Moved, m => Assert.Contains(m.Request, step.Prefill));
        }

        // Work conserving: a step with a free slot leaves nothing waiting that it could take.
        Assert.All(steps.Where(s => s.Batch.Count < 2), s => Assert.Empty(s.Waiting));
    }

    [Theory]
    [InlineData(FcfsPolicy.PolicyName, 1, 2)]
    [InlineData(FcfsPolicy.PolicyName, 1, 4)]
    [InlineData(LapsPolicy.PolicyName, 1, 2)]
    [InlineData(LapsPolicy.PolicyName, 1, 4)]
    [InlineData(FcfsPolicy.PolicyName, 4, 2)]
    [InlineData(FcfsPolicy.PolicyName, 4, 4)]
    [InlineData(LapsPolicy.PolicyName, 4, 4)]
    public void N_workers_serve_n_times_the_load_no_slower_than_one_worker_at_a_nth_of_it(string policy, int batch, int workers)
    {
        // The same requests and inter-arrival gaps, N times closer together for N workers: each worker is as loaded
        // (about half busy) and every request's service is the same (same step model, same batch). Pooling can only
        // shorten queueing, since a request waits only while all N workers are busy rather than one, so the pool's
        // mean latency lies between the service floor (the latency when nothing queues) and the single worker's; the
        // 3% above it allows for step-boundary effects (a request that arrives while every worker is mid-step waits
        // for the first step end, and batches fill differently).
        var one = SimulationScenario.Requests(400, seed: 59, load: 0.3 * batch);
        var options = new SimulationOptions { Batch = batch };

        var single = SimulationScenario.Run(one, policy, options).Latencies.Average();
        var pool = SimulationScenario.Run(Scaled(one, 1.0 / workers), policy, options with { Workers = workers }).Latencies.Average();
        var floor = SimulationScenario.Run(Scaled(one, 1000), policy, options).Latencies.Average();

        Assert.InRange(pool, floor * 0.999, single * 1.03);
        if (batch > 1)
        {
            // Batches of 4 at this load seldom fill, so one worker queues little either: about the same latency.
            Assert.InRange(pool / single, 0.9, 1.03);
        }
    }

    [Fact]
    public void Two_workers_finish_a_burst_in_about_half_the_time_of_one()
    {
        var burst = Scaled(SimulationScenario.Requests(200, seed: 61), 0);

        var one = SimulationScenario.Run(burst, FcfsPolicy.PolicyName, new SimulationOptions { Batch = 4 });
        var two = SimulationScenario.Run(burst, FcfsPolicy.PolicyName, new SimulationOptions { Batch = 4, Workers = 2 });

        Assert.InRange(two.MakespanSeconds / one.MakespanSeconds, 0.45, 0.6);
        Assert.InRange(two.BusySeconds / one.BusySeconds, 0.95, 1.05);
    }

    [Fact]
    public void The_simulator_rejects_an_empty_pool()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new Simulator(new SimulationOptions { Workers = 0 }));

    private static SimulationOutcome Run(IReadOnlyList<SimulatedRequest> requests, string policy, SimulationOptions options, Action<SimulatedStep> onStep)
    {
        var context = SimulationScenario.Context(requests, options);
        return new Simulator(options).Run(requests, PolicyCatalog.Create(policy, context), new Laps.Scheduling.Prediction.OracleLengthPredictor(), onStep);
    }

    private static IReadOnlyList<SimulatedRequest> Scaled(IReadOnlyList<SimulatedRequest> requests, double factor)
        => [.. requests.Select(r => r with { ArrivalTime = r.ArrivalTime * factor })];

    private static void AssertSequential(IEnumerable<(double Start, double End)> intervals)
    {
        var previousEnd = double.NegativeInfinity;
        foreach (var (start, end) in intervals.OrderBy(x => x.Start))
        {
            Assert.True(start >= previousEnd, $"a step starting at {start} overlaps one ending at {previousEnd}");
            Assert.True(end > start);
            previousEnd = end;
        }
    }

    private static string Describe(SimulatedStep s)
        => $"{s.Worker} {s.Start:R} {s.End:R} [{string.Join(',', s.Batch)}] [{string.Join(',', s.Prefill)}] [{string.Join(',', s.Moved)}] [{string.Join(',', s.Preempted)}] [{string.Join(',', s.Waiting)}]";

    private static double Relative(double expected) => Math.Max(1e-12, Math.Abs(expected) * 1e-9);
}
