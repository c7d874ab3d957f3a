using Laps.Scheduler.Api;
using Laps.Scheduler.Observability;
using Laps.Scheduler.Serving.Sessions;
using Laps.Scheduling;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Microsoft.Extensions.Logging;

namespace Laps.Scheduler.Serving;

/// <summary>A worker as the dispatcher tracks it. Fields are read and written under the dispatcher's lock.</summary>
internal sealed class WorkerSlot(string name)
{
    public string Name { get; } = name;

    /// <summary>The core's view of the worker, once it answered Describe.</summary>
    public PoolWorker? Core { get; set; }

    /// <summary>The worker answered its last call.</summary>
    public bool Ready { get; set; }

    /// <summary>Its loop ended on an unexpected error: it takes nothing any more.</summary>
    public bool Dead { get; set; }

    /// <summary>It left the pool (discovery no longer lists it).</summary>
    public bool Retired { get; set; }

    /// <summary>Calls (Describe or Step) it failed in a row.</summary>
    public int Failures { get; set; }

    /// <summary>Seconds per prefix token a sequence preempted here recomputes when it resumes (0: preemption keeps its state).</summary>
    public double ResumeSecondsPerToken { get; set; }

    /// <summary>Sequence ids whose state the worker may drop (finished, cancelled, failed, moved elsewhere).</summary>
    public List<string> ToRelease { get; } = [];
}

/// <summary>One step's batch for one worker: the requests, in order, and what the worker is sent for each.</summary>
internal sealed class StepPlan(List<LiveRequest> requests, List<SequenceStep> steps)
{
    public List<LiveRequest> Requests { get; } = requests;
    public List<SequenceStep> Steps { get; } = steps;
}

/// <summary>
/// The one owner of every admitted request and of the <see cref="PoolScheduler"/>: admission, cancellation, each
/// worker's next batch and what its step reported all happen under one lock, so a request is never in two places,
/// and a cancel is never lost, whatever the request is doing (queued, in a step, moving between workers).
/// Worker loops call in; the dispatcher calls nothing back. Requests wait in one pool-wide queue (late binding):
/// a worker ready for its next step takes the best-ranked requests that fit it.
/// </summary>
internal sealed partial class Dispatcher
{
    private const int FallbackSpeculationLength = 4;

    /// <summary>The batch when neither the configuration nor the worker names one (a worker that reports no maximum).</summary>
    private const int FallbackBatch = 8;

    private readonly Lock _lock = new();
    private readonly SchedulerOptions _options;
    private readonly ILengthPredictor _predictor;
    private readonly SchedulerMetrics _metrics;
    private readonly ServingGauges _gauges;
    private readonly SchedulerClock _clock;
    private readonly ITokenizer _tokenizer;
    private readonly ILogger _logger;
    private readonly Dictionary<RequestState, LiveRequest> _requests = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, LiveRequest> _bySequence = new(StringComparer.Ordinal);

    // Admitted requests by tenant (the core knows them only once a worker described itself).
    private readonly Dictionary<string, int> _heldByTenant = new(StringComparer.Ordinal);
    private readonly List<LiveRequest> _early = [];
    private readonly List<WorkerSlot> _slots = [];
    private readonly Func<RequestState, bool> _aborted;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PoolScheduler? _core;
    private int _held;
    private int _perceptible;
    private volatile bool _accepting = true;

    public Dispatcher(
        SchedulerOptions options,
        ILengthPredictor predictor,
        SchedulerMetrics metrics,
        ServingGauges gauges,
        SchedulerClock clock,
        ITokenizer tokenizer,
        ILogger logger)
    {
        _options = options;
        _predictor = predictor;
        _metrics = metrics;
        _gauges = gauges;
        _clock = clock;
        _tokenizer = tokenizer;
        _logger = logger;
        _aborted = r => _requests.TryGetValue(r, out var live) && live.IsCancelled;
    }

    public bool Accepting => _accepting;

    /// <summary>Requests admitted and not yet finished, cancelled or failed.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Completes when something happened that may give an idle worker work (read it before <see cref="TakeBatch"/>).</summary>
    public Task Changed
    {
        get
        {
            lock (_lock)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>Completes when no admitted request is left after <see cref="StopAccepting"/>.</summary>
    public Task Drained => _drained.Task;

    /// <summary>
    /// The most tokens (prompt plus completion) one request may hold: the largest KV capacity of the workers that
    /// described themselves, less one step's growth; null while none has.
    /// </summary>
    public long? ContextLimit
    {
        get
        {
            lock (_lock)
            {
                long? limit = null;
                foreach (var slot in _slots)
                {
                    if (slot.Core is { Retired: false, KvCapacityTokens: < long.MaxValue } w)
                    {
                        var fits = w.KvCapacityTokens - _core!.Policy.Context.K - 1;
                        limit = limit is null ? fits : Math.Max(limit.Value, fits);
                    }
                    else if (slot.Core is { Retired: false })
                    {
                        return null;
                    }
                }

                return limit;
            }
        }
    }

    public AdmissionResult TryAdmit(LiveRequest request)
    {
        lock (_lock)
        {
            if (!_accepting)
            {
                return AdmissionResult.ShuttingDown;
            }

            var tenant = request.Tenant;
            var tenantHeld = _heldByTenant.GetValueOrDefault(tenant);
            var admission = FairShare.Admit(
                _options.FairShare,
                _options.MaxQueued,
                waiting: _held - (_core?.Running ?? 0),
                tenantWaiting: tenantHeld - (_core?.RunningOf(tenant) ?? 0),
                activeTenants: _heldByTenant.Count + (tenantHeld == 0 ? 1 : 0));
            if (admission != TenantAdmission.Admitted)
            {
                return admission == TenantAdmission.QueueFull ? AdmissionResult.QueueFull : AdmissionResult.TenantQueueFull;
            }

            if (AllDown())
            {
                return AdmissionResult.NoWorkers; // none in the pool, or every one failed its last calls
            }

            _core?.Admit(request.State); // first: if the core throws (a defect), nothing else has changed
            _held++;
            _heldByTenant[tenant] = tenantHeld + 1;
            _requests.Add(request.State, request);
            _bySequence.Add(request.SequenceId, request);
            if (_core is null)
            {
                _early.Add(request); // admitted to the core once the first worker describes itself
            }

            if (request.IsCancelled)
            {
                CancelLocked(request);
                return AdmissionResult.Admitted;
            }

            Signal();
            return AdmissionResult.Admitted;
        }
    }

    /// <summary>The client went away: the request leaves now, or, if a step holds it, as soon as that step returns.</summary>
    public void Cancel(LiveRequest request)
    {
        lock (_lock)
        {
            if (!_requests.ContainsKey(request.State))
            {
                return;
            }

            request.CancelRequested = true;
            if (request.InStepOn is null)
            {
                CancelLocked(request);
            }
        }
    }

    /// <summary>New requests are refused from now on; admitted ones keep being served.</summary>
    public void StopAccepting()
    {
        lock (_lock)
        {
            _accepting = false;
            CheckDrained();
        }
    }

    /// <summary>A worker entered the pool (before it answered anything).</summary>
    public void Register(WorkerSlot slot)
    {
        lock (_lock)
        {
            _slots.Add(slot);
        }
    }

    /// <summary>A worker described itself: the core gets it (and is created at the first one).</summary>
    public void Join(WorkerSlot slot, WorkerInfo info)
    {
        lock (_lock)
        {
            if (_core is null)
            {
                _core = CreateCore(info);
                foreach (var request in _early)
                {
                    _core.Admit(request.State);
                }

                _early.Clear();
            }

            var batch = BatchFor(info);
            slot.Core = _core.AddWorker(batch, info.KvCapacityTokens > 0 ? info.KvCapacityTokens : long.MaxValue);
            slot.Ready = true;
            slot.Failures = 0;
            slot.ResumeSecondsPerToken = info.ResumePrefillSecondsPerToken;
            LogDescribed(slot.Name, info.WorkerId, _core.Policy.Context.K, batch, info.KvCapacityTokens, _core.Policy.Context.StepSeconds);
            Signal();
        }
    }

    /// <summary>
    /// The worker answered (or failed) a call; <paramref name="failures"/> is how many it failed in a row. When every
    /// worker of the pool has failed <see cref="SchedulerOptions.MaxStepFailures"/> calls in a row, the requests waiting
    /// for one fail with 502 rather than wait for good.
    /// </summary>
    public void SetReady(WorkerSlot slot, bool ready, int failures)
    {
        lock (_lock)
        {
            slot.Failures = failures;
            if (slot.Ready != ready)
            {
                slot.Ready = ready;
                if (ready)
                {
                    Signal();
                }
            }

            if (!ready && AllDown())
            {
                foreach (var request in _requests.Values.Where(r => r.InStepOn is null).ToList())
                {
                    FailLocked(
                        request,
                        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"no worker is available: every worker failed its last {_options.MaxStepFailures} calls"),
                        RejectReason.WorkerError);
                }
            }
        }
    }

    /// <summary>The worker left the pool: it takes no new work (see <see cref="TryLeave"/>).</summary>
    public void Retire(WorkerSlot slot)
    {
        lock (_lock)
        {
            slot.Retired = true;
            if (slot.Core is { } w)
            {
                _core!.Retire(w);
            }

            Signal();
        }
    }

    /// <summary>
    /// Whether a retired worker's loop may end now: when it holds nothing, or another worker can take what it holds
    /// (those requests then recompute their prefix there). Until then it keeps serving what it holds, undisturbed.
    /// </summary>
    public bool TryLeave(WorkerSlot slot)
    {
        lock (_lock)
        {
            if (slot.Core is { Resident: > 0 } && !_slots.Any(s => s != slot && s.Ready && !s.Dead && !s.Retired && s.Core is not null))
            {
                return false;
            }

            DropWorker(slot);
            _slots.Remove(slot);
            return true;
        }
    }

    /// <summary>The next batch for the worker, or null when there is nothing for it to run.</summary>
    public StepPlan? TakeBatch(WorkerSlot slot)
    {
        lock (_lock)
        {
            if (_core is null || slot.Core is not { } w || slot.Dead || !slot.Ready)
            {
                return null;
            }

            // Nothing to run when every pending request is in another worker's batch: no decision (decisions count time).
            if (_core.Pending - (_core.Running - w.Running.Count) <= 0)
            {
                _gauges.Queued(_core, _requests.Keys);
                return null;
            }

            var decision = _core.Decide(w, _aborted);
            if (decision.Preempted.Count > 0)
            {
                _metrics.Preemptions.WithLabels(slot.Name).Inc(decision.Preempted.Count);
                Signal(); // a request that lost its slot here may run on an idle worker
            }

            foreach (var (moved, from) in decision.Moved)
            {
                SlotOf(from)?.ToRelease.Add(_requests[moved].SequenceId);
            }

            var now = _clock.Now;
            var requests = new List<LiveRequest>(decision.Selected.Count);
            var steps = new List<SequenceStep>(decision.Selected.Count);
            foreach (var state in decision.Selected)
            {
                var request = _requests[state];
                if (!request.EverSelected)
                {
                    request.EverSelected = true;
                    _metrics.QueueWait.Observe(Math.Max(0, now - state.ArrivalTime));
                }

                if (request.LastRanOn is { } last && last != slot)
                {
                    _metrics.Migrated.Inc();
                }

                request.LastRanOn = slot;
                request.InStepOn = slot;
                var prefill = Contains(decision.Prefill, state);
                steps.Add(new SequenceStep(
                    request.SequenceId,
                    prefill ? request.PromptTokenIds : null,
                    prefill ? [.. request.GeneratedTokenIds] : null,
                    request.MaxTokens,
                    request.Seed,
                    request.Sampling,
                    request.PromptHash));
                requests.Add(request);
            }

            _gauges.Queued(_core, _requests.Keys);
            return requests.Count == 0 ? null : new StepPlan(requests, steps);
        }
    }

    /// <summary>What the worker's step did: record it, stream the tokens, finish what ended.</summary>
    public void Apply(WorkerSlot slot, StepPlan plan, StepResult result, double measuredSeconds)
    {
        // Attained service is GPU time: the worker's own account of the step when it gives one, else the round trip.
        var stepSeconds = result.ElapsedSeconds > 0 && double.IsFinite(result.ElapsedSeconds) ? result.ElapsedSeconds : measuredSeconds;
        lock (_lock)
        {
            var now = _clock.Now;
            foreach (var evicted in result.Evicted)
            {
                if (_bySequence.TryGetValue(evicted, out var request))
                {
                    _core!.Evicted(request.State);
                }
            }

            foreach (var output in result.Outputs)
            {
                if (!_bySequence.TryGetValue(output.SequenceId, out var request) || request.InStepOn != slot)
                {
                    continue; // not a sequence of this step: nothing to record
                }

                request.InStepOn = null;
                if (request.IsCancelled)
                {
                    CancelLocked(request);
                    continue;
                }

                Record(slot, request, output, stepSeconds, now);
            }

            // Sequences the worker did not report: a cancel that waited for the step, or a malformed answer.
            foreach (var request in plan.Requests)
            {
                if (request.InStepOn == slot)
                {
                    request.InStepOn = null;
                    if (_requests.ContainsKey(request.State) && request.IsCancelled)
                    {
                        CancelLocked(request);
                    }
                }
            }

            _gauges.Perceptible(_perceptible);
        }
    }

    /// <summary>
    /// The worker's step failed: it is taken to have lost every sequence. The step's requests go back to the queue
    /// (they resume anywhere, recomputing their prefix), except those that failed too often in a row.
    /// </summary>
    public void StepFailed(WorkerSlot slot, StepPlan plan, WorkerCallException error)
    {
        lock (_lock)
        {
            slot.Ready = false;
            _metrics.StepFailures.WithLabels(slot.Name).Inc();
            DropWorker(slot);
            foreach (var request in plan.Requests)
            {
                if (request.InStepOn != slot)
                {
                    continue;
                }

                request.InStepOn = null;
                if (request.IsCancelled)
                {
                    CancelLocked(request);
                }
                else if (++request.ConsecutiveFailures >= _options.MaxStepFailures)
                {
                    FailLocked(request, $"worker {slot.Name} failed: {error.Message}", RejectReason.WorkerError);
                }
            }

            Signal();
        }
    }

    /// <summary>The worker's loop died on an unexpected error: its step's requests fail; if no loop is left, every request does.</summary>
    public void Died(WorkerSlot slot, StepPlan? plan)
    {
        lock (_lock)
        {
            slot.Dead = true;
            slot.Ready = false;
            if (slot.Core is { } w)
            {
                _core!.Retire(w);
            }

            DropWorker(slot);
            const string Message = "the scheduler failed while serving the request";
            foreach (var request in plan?.Requests ?? [])
            {
                request.InStepOn = null;
                if (_requests.ContainsKey(request.State))
                {
                    FailLocked(request, Message, RejectReason.InternalError);
                }
                else if (request.EventWriter.TryComplete(new RequestFailedException(Message, RejectReason.InternalError)))
                {
                    _metrics.Rejected.WithLabels(RejectReason.InternalError).Inc(); // it failed half-way through leaving
                }
            }

            if (!_slots.Any(s => !s.Dead))
            {
                FailAllLocked("the scheduler failed: no worker loop is running", RejectReason.InternalError);
            }

            Signal();
        }
    }

    /// <summary>Fails every request still admitted (shutdown past the drain timeout); their workers may release them.</summary>
    public void FailAll(string message, string reason)
    {
        lock (_lock)
        {
            FailAllLocked(message, reason);
        }
    }

    /// <summary>The sequence ids the worker may drop now (taken: the caller sends them).</summary>
    public List<string> TakeReleases(WorkerSlot slot)
    {
        lock (_lock)
        {
            if (slot.ToRelease.Count == 0)
            {
                return [];
            }

            var ids = new List<string>(slot.ToRelease);
            slot.ToRelease.Clear();
            return ids;
        }
    }

    /// <summary>
    /// A worker's batch: the configured one capped at the worker's maximum, or (batch 0, the default) the worker's
    /// maximum itself, which for an engine adapter is the engine's batch cap: Laps batches at the engine's capacity
    /// (docs/evaluation.md, "The engine alone at its own batch cap").
    /// </summary>
    private int BatchFor(WorkerInfo info) => (_options.Batch, info.MaxBatch) switch
    {
        (> 0, > 0) => Math.Min(_options.Batch, info.MaxBatch),
        (> 0, _) => _options.Batch,
        (_, > 0) => info.MaxBatch,
        _ => FallbackBatch,
    };

    private PoolScheduler CreateCore(WorkerInfo info)
    {
        var k = info.SpeculationLength > 0 ? info.SpeculationLength : FallbackSpeculationLength;
        var batch = BatchFor(info);
        var stepSeconds = _options.StepSeconds > 0 ? _options.StepSeconds : ReferenceStepSeconds(info.StepTime, k, batch);
        var context = new PolicyContext(k, stepSeconds, _options.PriorAcceptance);
        return new PoolScheduler(PolicyCatalog.Create(_options.Policy, context, _options.PolicySettings), _predictor, _options.FairShare);
    }

    /// <summary>The worker's step-time profile at B sequences of the reference context, else the built-in H100 model.</summary>
    private double ReferenceStepSeconds(LinearStepTime? profile, int k, int batch)
    {
        var kv = (double)batch * _options.ReferenceContextTokens;
        var seconds = profile?.StepSeconds(k, batch, kv) ?? 0;
        return seconds > 0 && double.IsFinite(seconds)
            ? seconds
            : StepTimeModel.H100Llama8B.StepSeconds(ProposerKind.Eagle, k, batch, 0, (long)kv);
    }

    private void Record(WorkerSlot slot, LiveRequest request, SequenceReport output, double stepSeconds, double now)
    {
        if (output.Error is null)
        {
            request.ConsecutiveFailures = 0;
        }

        var emitted = output.TokenIds.Count;
        var drafted = Math.Max(0, output.Drafted);
        var accepted = Math.Clamp(output.Accepted, 0, drafted);
        var state = request.State;
        var hadToken = state.FirstTokenTime is not null;
        _core!.RecordStep(state, emitted, drafted, accepted, stepSeconds, now);
        request.GeneratedTokenIds.AddRange(output.TokenIds);

        // What preempting it now would cost: nothing where the worker keeps its state, the recompute of its prefix
        // where the engine cannot pause a sequence (cost-aware preemption reads it).
        state.ResumeCostSeconds = slot.ResumeSecondsPerToken * (state.PromptTokens + state.Generated);
        _metrics.DraftedTokens.WithLabels(slot.Name).Inc(drafted);
        _metrics.AcceptedTokens.WithLabels(slot.Name).Inc(accepted);
        if (state.Perceptible && !request.CountedPerceptible)
        {
            request.CountedPerceptible = true;
            _perceptible++;
        }

        if (emitted > 0)
        {
            _metrics.GeneratedTokens.WithLabels(slot.Name).Inc(emitted);
            if (!hadToken)
            {
                _metrics.TimeToFirstToken.Observe(Math.Max(0, now - state.ArrivalTime));
            }

            var text = output.Text.Length > 0 ? output.Text : _tokenizer.Decode(output.TokenIds);
            request.EventWriter.TryWrite(new TokensEmitted(text, emitted));
        }

        if (output.Finished || state.Generated >= request.MaxTokens)
        {
            FinishLocked(request, output.Stopped ? "stop" : "length", now);
        }
        else if (output.Error is { } error)
        {
            // The engine failed this sequence alone: the worker dropped it; it resumes from its prefix, here or elsewhere.
            _core.Evicted(state);
            _metrics.SequenceErrors.WithLabels(slot.Name).Inc();
            if (++request.ConsecutiveFailures >= _options.MaxStepFailures)
            {
                FailLocked(request, $"worker {slot.Name} failed the request: {error}", RejectReason.WorkerError);
            }
        }
    }

    private void FinishLocked(LiveRequest request, string finishReason, double now)
    {
        var state = request.State;
        Leave(request);
        _core!.Finish(state, now);
        _metrics.RequestDuration.Observe(Math.Max(0, now - state.ArrivalTime));
        if (state.Acceptance.Drafted > 0)
        {
            _metrics.RequestAcceptance.Observe((double)state.Acceptance.Accepted / state.Acceptance.Drafted);
        }

        // As the simulator measures it: the estimate when the request became perceptible against the steps it took since.
        if (state.EstimateAtPerceptible is double estimate)
        {
            var actual = (state.Steps - state.StepsAtPerceptible) * _core.Policy.Context.StepSeconds;
            if (actual > 0)
            {
                _metrics.EstimateError.Observe(Math.Abs(estimate - actual) / actual);
            }
        }

        request.EventWriter.TryWrite(new RequestFinished(
            finishReason, state.PromptTokens, state.Generated, state.Acceptance.Drafted, state.Acceptance.Accepted, state.Preemptions));
        request.EventWriter.TryComplete();
        CheckDrained();
    }

    private void CancelLocked(LiveRequest request)
    {
        Leave(request);
        _core?.Cancel(request.State);
        _metrics.Cancelled.Inc();
        request.EventWriter.TryComplete(new OperationCanceledException("the client went away"));
        CheckDrained();
    }

    private void FailLocked(LiveRequest request, string message, string reason)
    {
        Leave(request);
        _core?.Cancel(request.State);
        _metrics.Rejected.WithLabels(reason).Inc();
        request.EventWriter.TryComplete(new RequestFailedException(message, reason));
        CheckDrained();
    }

    private void FailAllLocked(string message, string reason)
    {
        foreach (var request in _requests.Values.ToList())
        {
            request.InStepOn = null;
            FailLocked(request, message, reason);
        }
    }

    /// <summary>Bookkeeping when a request leaves (finished, cancelled or failed), before the core forgets it.</summary>
    private void Leave(LiveRequest request)
    {
        _requests.Remove(request.State);
        _bySequence.Remove(request.SequenceId);
        _early.Remove(request);
        _held--;
        if (_heldByTenant.TryGetValue(request.Tenant, out var held))
        {
            if (held <= 1)
            {
                _heldByTenant.Remove(request.Tenant);
            }
            else
            {
                _heldByTenant[request.Tenant] = held - 1;
            }
        }

        if (_core?.ResidentOn(request.State) is { } home)
        {
            SlotOf(home)?.ToRelease.Add(request.SequenceId);
            Signal(); // an idle loop wakes to send the release
        }

        if (request.CountedPerceptible)
        {
            request.CountedPerceptible = false;
            _perceptible--;

            // Before the request's last event: a scrape after the response sees it gone.
            _gauges.Perceptible(_perceptible);
        }
    }

    /// <summary>The worker holds nothing from now on (left, failed, died): its sequences are released there and recomputed elsewhere.</summary>
    private void DropWorker(WorkerSlot slot)
    {
        if (slot.Core is not { } w)
        {
            return;
        }

        if (w.Resident > 0)
        {
            foreach (var (state, request) in _requests)
            {
                if (_core!.ResidentOn(state) == w)
                {
                    slot.ToRelease.Add(request.SequenceId);
                }
            }
        }

        _core!.Lost(w);
        Signal(); // what it ran may run elsewhere now
    }

    /// <summary>No worker can take a request: the pool has none, or each failed its last calls (see <see cref="SetReady"/>).</summary>
    private bool AllDown()
    {
        var any = false;
        foreach (var slot in _slots)
        {
            if (slot.Dead || slot.Retired)
            {
                continue;
            }

            if (slot.Ready || slot.Failures < _options.MaxStepFailures)
            {
                return false;
            }

            any = true;
        }

        return any || _slots.All(s => s.Dead || s.Retired);
    }

    private WorkerSlot? SlotOf(PoolWorker worker) => _slots.FirstOrDefault(s => s.Core == worker);

    private void CheckDrained()
    {
        if (!_accepting && _held == 0)
        {
            _drained.TrySetResult();
        }
    }

    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private static bool Contains(IReadOnlyList<RequestState> list, RequestState item)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (ReferenceEquals(list[i], item))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "worker {Worker} is {WorkerId}: k={K}, batch {Batch}, KV {KvTokens} tokens, reference step {StepSeconds} s")]
    private partial void LogDescribed(string worker, string workerId, int k, int batch, long kvTokens, double stepSeconds);
}
