using BenchmarkDotNet.Attributes;
using Laps.Scheduling;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Benchmarks;

/// <summary>
/// One LAPS-SD scheduling cycle with N queued requests: choose a batch of 32, then record the step for the 32
/// that ran (re-keying them). The posterior is warm, so ranks are Gittins indices, as in steady state.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class DecisionBenchmarks
{
    private BatchScheduler _scheduler = null!;

    [Params(1_000, 10_000, 100_000)]
    public int Queued { get; set; }

    [Params(LapsPolicy.PolicyName, SrptPolicy.PolicyName)]
    public string Policy { get; set; } = LapsPolicy.PolicyName;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var context = new PolicyContext(4, 0.012, 0.65);
        var policy = PolicyCatalog.Create(Policy, context);
        _scheduler = new BatchScheduler(policy, new LengthFromId(), 32);

        // Teach the posterior with completed requests so that ranks come from it.
        for (var i = 0; i < 200; i++)
        {
            policy.OnCompleted(new RequestState(-1 - i, 0, 10) { PredictedLength = 50 + random.Next(1000) }, 50 + random.Next(1000));
        }

        for (var i = 0; i < Queued; i++)
        {
            var r = new RequestState(i, i * 0.001, 100);
            _scheduler.Admit(r);
            for (var s = random.Next(12); s > 0; s--)
            {
                _scheduler.RecordStep(r, 3, 4, 2, 0.012, 0);
            }
        }
    }

    [Benchmark(Description = "decide a batch of 32 and record its step")]
    public int DecideAndRecord()
    {
        var decision = _scheduler.Decide();
        var selected = decision.Selected;
        for (var i = 0; i < selected.Count; i++)
        {
            _scheduler.RecordStep(selected[i], 3, 4, 2, 0.012, 0);
        }

        return selected.Count;
    }

    /// <summary>A deterministic stand-in for a length predictor: varied lengths without ground truth.</summary>
    private sealed class LengthFromId : ILengthPredictor
    {
        public string Name => "hash";

        public double Predict(RequestState request) => 20 + ((request.Id * 2654435761L) % 2000);
    }
}
