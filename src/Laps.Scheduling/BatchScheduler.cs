using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling;

/// <summary>One step's decision: the batch to run and the requests that ran last step but lost their slot.</summary>
public sealed class BatchDecision
{
    internal List<RequestState> SelectedList { get; } = [];
    internal List<RequestState> PreemptedList { get; } = [];

    public IReadOnlyList<RequestState> Selected => SelectedList;
    public IReadOnlyList<RequestState> Preempted => PreemptedList;
}

/// <summary>
/// The scheduling core as a host (the simulator or the live sidecar) drives it: admit requests, ask for each
/// step's batch, report what each step did, finish or cancel. Preemption is not an action but a consequence:
/// a request that ran in the last step and is not in this one is preempted. One instance serves one worker's
/// batch; the returned decision is reused by the next call. Not thread-safe.
/// </summary>
public sealed class BatchScheduler
{
    private readonly ILengthPredictor _predictor;
    private readonly RequestState[] _buffer;
    private readonly BatchDecision _decision = new();
    private List<RequestState> _running = [];
    private List<RequestState> _spare = [];

    public BatchScheduler(SchedulingPolicy policy, ILengthPredictor predictor, int maxBatch)
    {
        if (maxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch size must be >= 1");
        }

        Policy = policy;
        _predictor = predictor;
        MaxBatch = maxBatch;
        _buffer = new RequestState[maxBatch];
    }

    public SchedulingPolicy Policy { get; }
    public int MaxBatch { get; }

    /// <summary>Admitted requests not yet finished (running ones included).</summary>
    public int Pending => Policy.Count;

    public void Admit(RequestState request)
    {
        request.PredictedLength = Math.Max(1, _predictor.Predict(request));
        Policy.Admit(request);
        if (request.Perceptible)
        {
            request.PerceptibleAt ??= request.ArrivalTime; // perceptible on admission (no stability test to pass)
        }
    }

    public BatchDecision Decide()
    {
        var n = Policy.Select(_buffer);
        var decision = Policy.Decisions;
        _decision.SelectedList.Clear();
        _decision.PreemptedList.Clear();
        _spare.Clear();
        for (var i = 0; i < n; i++)
        {
            var r = _buffer[i];
            r.Entry!.SelectedInDecision = decision;
            _decision.SelectedList.Add(r);
            _spare.Add(r);
            _buffer[i] = null!;
        }

        foreach (var r in _running)
        {
            if (r.Entry is { } entry && entry.SelectedInDecision != decision && Policy.Contains(r))
            {
                r.Preemptions++;
                r.Running = false;
                Policy.RunningChanged(r);
                _decision.PreemptedList.Add(r);
            }
        }

        foreach (var r in _spare)
        {
            if (!r.Running)
            {
                r.Running = true;
                Policy.RunningChanged(r);
            }
        }

        (_running, _spare) = (_spare, _running);
        return _decision;
    }

    /// <summary>Records what one step did for a request of the current batch.</summary>
    public void RecordStep(RequestState request, int emitted, int drafted, int accepted, double stepSeconds, double now)
    {
        request.RecordStep(emitted, drafted, accepted, stepSeconds, now);
        if (Policy.Contains(request))
        {
            Policy.Stepped(request);

            // The policy has no clock: the report that made the request perceptible carries the time it happened.
            if (request.Perceptible)
            {
                request.PerceptibleAt ??= now;
            }
        }
    }

    /// <summary>The request produced its last token: it leaves the queue and teaches the predictors.</summary>
    public void Finish(RequestState request, double now)
    {
        request.FinishTime = now;
        Leave(request);
        _predictor.Observe(request, request.Generated);
        Policy.OnCompleted(request, request.Generated);
    }

    /// <summary>The client went away (or the request failed): it leaves without teaching anything.</summary>
    public void Cancel(RequestState request) => Leave(request);

    private void Leave(RequestState request)
    {
        Policy.Remove(request);
        request.Running = false;
        _running.Remove(request);
    }
}
