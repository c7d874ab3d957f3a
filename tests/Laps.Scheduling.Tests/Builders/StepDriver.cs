using Laps.Scheduling.Estimation;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Tests.Builders;

/// <summary>What one decision and the step after it did, by request id.</summary>
internal sealed record StepRecord(long Step, long[] Selected, long[] Preempted, long[] Finished)
{
    public override string ToString()
        => $"step {Step}: run [{string.Join(',', Selected)}] preempt [{string.Join(',', Preempted)}] finish [{string.Join(',', Finished)}]";
}

/// <summary>
/// A tiny deterministic worker: admits requests at their arrival step, asks the <see cref="BatchScheduler"/> for a
/// batch, and reports a fake step for every selected request (k drafts, accepted as the acceptance process says,
/// emitted = accepted + 1 up to the true length), finishing requests that reached their true length. Virtual time
/// advances by the step-time model; nothing reads a clock.
/// </summary>
internal sealed class StepDriver
{
    private readonly Random _random;
    private readonly Func<RequestState, int, Random, int> _acceptance;
    private readonly StepTimeModel _model = StepTimeModel.H100Llama8B;
    private readonly List<(long Step, RequestState Request)> _arrivals = [];
    private readonly List<RequestState> _live = [];

    public StepDriver(BatchScheduler scheduler, int seed = 1, Func<RequestState, int, Random, int>? acceptance = null)
    {
        Scheduler = scheduler;
        _random = new Random(seed);
        _acceptance = acceptance ?? BinomialAcceptance;
    }

    public BatchScheduler Scheduler { get; }
    public int K => Scheduler.Policy.Context.K;
    public long StepIndex { get; private set; }
    public double Now { get; private set; }
    public IReadOnlyList<RequestState> Live => _live;
    public bool Done => _arrivals.Count == 0 && _live.Count == 0;

    /// <summary>Each drafted token is accepted with the request's true acceptance, independently (seeded).</summary>
    public static int BinomialAcceptance(RequestState request, int k, Random random)
    {
        var accepted = 0;
        for (var i = 0; i < k; i++)
        {
            if (random.NextDouble() < request.Oracle!.TrueAcceptance)
            {
                accepted++;
            }
        }

        return accepted;
    }

    /// <summary>Every step accepts exactly A·k drafts, so the observed rate equals the true one at every step.</summary>
    public static int ExactAcceptance(RequestState request, int k, Random random) => (int)Math.Round(request.Oracle!.TrueAcceptance * k);

    public StepDriver Arrive(RequestState request, long atStep = 0)
    {
        _arrivals.Add((atStep, request));
        return this;
    }

    public StepRecord Step()
    {
        for (var i = 0; i < _arrivals.Count;)
        {
            if (_arrivals[i].Step <= StepIndex)
            {
                Scheduler.Admit(_arrivals[i].Request);
                _live.Add(_arrivals[i].Request);
                _arrivals.RemoveAt(i);
            }
            else
            {
                i++;
            }
        }

        var decision = Scheduler.Decide();
        var selected = decision.Selected.ToArray();
        var preempted = decision.Preempted.Ids();
        var finished = new List<long>();
        var kv = selected.Sum(r => (long)r.PromptTokens + r.Generated);
        var seconds = selected.Length == 0 ? 1e-3 : _model.StepSeconds(ProposerKind.Eagle, K, selected.Length, 0, kv);
        Now += seconds;
        foreach (var r in selected)
        {
            var accepted = _acceptance(r, K, _random);
            var emitted = Math.Min(accepted + 1, r.Oracle!.TrueLength - r.Generated);
            Scheduler.RecordStep(r, emitted, K, accepted, seconds, Now);
            if (r.Generated >= r.Oracle.TrueLength)
            {
                Scheduler.Finish(r, Now);
                _live.Remove(r);
                finished.Add(r.Id);
            }
        }

        return new StepRecord(StepIndex++, selected.Ids(), preempted, [.. finished]);
    }

    /// <summary>Steps until every request arrived and finished (or <paramref name="maxSteps"/> passed).</summary>
    public List<StepRecord> Run(int maxSteps = 100_000)
    {
        var records = new List<StepRecord>();
        while (!Done && records.Count < maxSteps)
        {
            records.Add(Step());
        }

        return records;
    }
}
