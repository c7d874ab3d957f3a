using System.Collections.Concurrent;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;

namespace Laps.Scheduling.Tests.Contract;

/// <summary>
/// The contract every policy keeps, checked on seeded random scenarios driven through <see cref="BatchScheduler"/>:
/// arrivals, steps with random acceptance, finishes, cancellations and requests reserved by another worker.
/// </summary>
public sealed class PolicyContractTests
{
    private const int Steps = 400;
    private static readonly int[] Seeds = [11, 23, 37];

    /// <summary>Every catalogued policy as configured by default, with a starvation guard, and LAPS's other variants.</summary>
    public static TheoryData<string, string> Policies()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in PolicyCatalog.Names)
        {
            data.Add(name, "default");
            data.Add(name, "guarded");
        }

        data.Add(LapsPolicy.PolicyName, "paper");
        data.Add(LapsPolicy.PolicyName, "posterior");
        data.Add(LapsPolicy.PolicyName, "always-perceptible");
        return data;
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Select_never_returns_more_than_the_batch_size(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.True(o.Selected.Length <= o.Batch, o.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Select_never_returns_a_request_twice(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.Equal(o.Selected.Length, o.Selected.Distinct().Count());
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Select_never_returns_a_finished_or_cancelled_request(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.Empty(o.Selected.Intersect(o.Removed));
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Select_never_returns_a_reserved_request(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.Empty(o.Selected.Intersect(o.Reserved));
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Select_is_work_conserving_it_fills_the_batch_with_runnable_requests(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.Equal(Math.Min(o.Batch, o.Runnable.Length), o.Selected.Length);
            Assert.Subset(o.Runnable.ToHashSet(), o.Selected.ToHashSet());
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Decisions_are_the_same_for_the_same_inputs(string policy, string flavour)
    {
        var first = RunFresh(policy, flavour).Select(o => o.ToString()).ToList();
        var second = RunFresh(policy, flavour).Select(o => o.ToString()).ToList();

        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Count_tracks_admissions_finishes_and_cancellations(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.Equal(o.Live.Length, o.Count);
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Preempted_are_the_requests_that_ran_last_step_are_unfinished_and_were_not_selected(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            var expected = o.RanLastStep.Intersect(o.Live).Except(o.Selected).Order();
            Assert.Equal(expected, o.Preempted.Order());
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Running_is_set_on_exactly_the_selected_requests(string policy, string flavour)
    {
        foreach (var o in Run(policy, flavour))
        {
            Assert.Equal(o.Selected.Order(), o.RunningAfterDecision.Order());
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Preemptions_counted_on_each_request_match_the_reported_preemptions(string policy, string flavour)
    {
        var scenario = new Scenario(policy, flavour, Seeds[0]);
        var observations = scenario.Run();

        var reported = observations.SelectMany(o => o.Preempted).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        foreach (var r in scenario.All)
        {
            Assert.Equal(reported.GetValueOrDefault(r.Id), r.Preemptions);
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Finish_removes_the_request_from_the_policy(string policy, string flavour)
    {
        var scheduler = new BatchScheduler(Create(policy, flavour), new OracleLengthPredictor(), maxBatch: 2);
        RequestState a = RequestBuilder.Request(1).WithTruth(5), b = RequestBuilder.Request(2).WithTruth(50);
        scheduler.Admit(a);
        scheduler.Admit(b);
        scheduler.Decide();

        scheduler.Finish(a, now: 1);

        Assert.False(scheduler.Policy.Contains(a));
        Assert.Equal(1, scheduler.Pending);
        Assert.Equal([2L], scheduler.Decide().Selected.Ids());
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void The_scenario_exercises_full_batches_partial_batches_and_reservations(string policy, string flavour)
    {
        var observations = Run(policy, flavour);

        Assert.Contains(observations, o => o.Runnable.Length > o.Batch);
        Assert.Contains(observations, o => o.Runnable.Length < o.Batch);
        Assert.Contains(observations, o => o.Reserved.Length > 0);
        Assert.Contains(observations, o => o.Removed.Length > 0);
    }

    internal static SchedulingPolicy Create(string policy, string flavour)
    {
        var guard = new StarvationGuard(IdleSteps: 4, BoostSteps: 2);
        var settings = flavour switch
        {
            "default" => new PolicySettings(),
            "guarded" => new PolicySettings
            {
                Mlfq = new MlfqOptions { Starvation = guard },
                Laps = new LapsOptions { Aging = guard },
                PredictedLengthGuard = guard,
            },
            "paper" => new PolicySettings { Laps = LapsOptions.Paper },
            "posterior" => new PolicySettings
            {
                Laps = new LapsOptions { Estimate = RemainingEstimate.Posterior, PosteriorCapacity = 64, PosteriorNeighbours = 8 },
            },
            "always-perceptible" => new PolicySettings
            {
                Laps = new LapsOptions { StabilityTolerance = double.PositiveInfinity, MinSteps = 0, PosteriorCapacity = 64, PosteriorNeighbours = 8 },
            },
            _ => throw new ArgumentOutOfRangeException(nameof(flavour), flavour, "unknown flavour"),
        };
        return PolicyCatalog.Create(policy, new PolicyContext(K: 4, StepSeconds: 0.01), settings);
    }

    // Scenarios are deterministic, so the tests that only read a trace share one run per policy (the determinism
    // test runs its own twice).
    private static readonly ConcurrentDictionary<(string, string), Lazy<List<Observation>>> Traces = new();

    [Theory]
    [MemberData(nameof(Policies))]
    public void QueueLevel_is_a_configured_level_and_zero_for_single_queue_policies(string policy, string flavour)
    {
        var levels = policy switch
        {
            LapsPolicy.PolicyName => new LapsOptions().Queues,
            MlfqPolicy.PolicyName => new MlfqOptions().Levels,
            _ => 1,
        };
        var seen = Run(policy, flavour).SelectMany(o => o.QueueLevels).ToHashSet();

        Assert.NotEmpty(seen);
        Assert.All(seen, level => Assert.InRange(level, 0, levels - 1));
    }

    private static List<Observation> Run(string policy, string flavour)
        => Traces.GetOrAdd((policy, flavour), key => new Lazy<List<Observation>>(() => RunFresh(key.Item1, key.Item2))).Value;

    private static List<Observation> RunFresh(string policy, string flavour)
        => [.. Seeds.SelectMany(seed => new Scenario(policy, flavour, seed).Run())];

    /// <summary>What the host saw around one decision, by request id.</summary>
    private sealed record Observation(
        int Batch, long[] Runnable, long[] Reserved, long[] Removed, long[] Live, int Count,
        long[] RanLastStep, long[] Selected, long[] Preempted, long[] RunningAfterDecision, int[] QueueLevels)
    {
        public override string ToString()
            => $"B={Batch} runnable=[{string.Join(',', Runnable)}] reserved=[{string.Join(',', Reserved)}] "
               + $"selected=[{string.Join(',', Selected)}] preempted=[{string.Join(',', Preempted)}]";
    }

    private sealed class Scenario(string policy, string flavour, int seed)
    {
        private readonly Random _random = new(seed);
        private readonly List<RequestState> _live = [];
        private readonly List<long> _removed = [];

        public List<RequestState> All { get; } = [];

        // Held back by the host this decision (as another worker's step would hold them).
        private readonly HashSet<RequestState> _reserved = [];

        public List<Observation> Run()
        {
            var batch = 1 + _random.Next(6);
            var scheduler = new BatchScheduler(Create(policy, flavour), new OracleLengthPredictor(), batch);
            long[] ranLastStep = [];
            var observations = new List<Observation>();
            for (var step = 0; step < Steps; step++)
            {
                // A burst early on fills the queue past the batch; later arrivals thin out so it drains too.
                var arrivals = step < Steps / 2 ? _random.Next(3) : (_random.NextDouble() < 0.1 ? 1 : 0);
                for (var j = 0; j < arrivals; j++)
                {
                    var length = 1 + (int)Math.Exp(_random.NextDouble() * 4);
                    RequestState r = RequestBuilder.Request(All.Count + 1).ArrivingAt(step + (0.1 * j)).WithTruth(length, 0.2 + (0.7 * _random.NextDouble()));
                    All.Add(r);
                    _live.Add(r);
                    scheduler.Admit(r);
                }

                if (_live.Count > 0 && _random.NextDouble() < 0.05)
                {
                    var victim = _live[_random.Next(_live.Count)];
                    scheduler.Cancel(victim);
                    Remove(victim);
                }

                _reserved.Clear();
                foreach (var r in _live)
                {
                    if (_random.NextDouble() < 0.1)
                    {
                        _reserved.Add(r);
                    }
                }

                var count = scheduler.Pending;
                var decision = scheduler.Decide(_reserved.Contains);
                var selected = decision.Selected.ToArray();
                observations.Add(new Observation(
                    batch,
                    Runnable: _live.Where(r => !_reserved.Contains(r)).Ids(),
                    Reserved: _reserved.Ids(),
                    Removed: [.. _removed],
                    Live: _live.Ids(),
                    count,
                    ranLastStep,
                    selected.Ids(),
                    decision.Preempted.Ids(),
                    _live.Where(r => r.Running).Ids(),
                    [.. _live.Select(scheduler.Policy.QueueLevel)]));
                ranLastStep = selected.Ids();

                foreach (var r in selected)
                {
                    var accepted = StepDriver.BinomialAcceptance(r, 4, _random);
                    var emitted = Math.Min(accepted + 1, r.Oracle!.TrueLength - r.Generated);
                    scheduler.RecordStep(r, emitted, 4, accepted, 0.01, step);
                    if (r.Generated >= r.Oracle.TrueLength)
                    {
                        scheduler.Finish(r, step);
                        Remove(r);
                    }
                }
            }

            return observations;
        }

        private void Remove(RequestState r)
        {
            _reserved.Remove(r);
            _live.Remove(r);
            _removed.Add(r.Id);
        }
    }
}
