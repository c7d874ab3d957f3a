using Laps.Scheduling.Collections;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>What every policy needs to know about the engine it schedules for.</summary>
/// <param name="K">Speculation length: drafted tokens per step.</param>
/// <param name="StepSeconds">Reference cost of one step at the configured batch size (k·T_SSM + T_LLM).</param>
/// <param name="PriorAcceptance">Acceptance assumed before a request has drafted anything.</param>
public sealed record PolicyContext(int K, double StepSeconds, double PriorAcceptance = 0.6)
{
    public void Validate()
    {
        if (K < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(K), K, "speculation length k must be >= 1");
        }

        if (!(StepSeconds > 0) || double.IsInfinity(StepSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(StepSeconds), StepSeconds, "step seconds must be a positive number");
        }

        if (PriorAcceptance is < 0 or > 1 || double.IsNaN(PriorAcceptance))
        {
            throw new ArgumentOutOfRangeException(nameof(PriorAcceptance), PriorAcceptance, "prior acceptance must be in [0, 1]");
        }
    }
}

/// <summary>
/// LTR-style starvation guard: a request that has waited <see cref="IdleSteps"/> decisions without running gets
/// top priority for the next <see cref="BoostSteps"/> decisions.
/// </summary>
public sealed record StarvationGuard(int IdleSteps = 200, int BoostSteps = 10)
{
    public void Validate()
    {
        if (IdleSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleSteps), IdleSteps, "starvation guard idle steps must be >= 1");
        }

        if (BoostSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BoostSteps), BoostSteps, "starvation guard boost steps must be >= 1");
        }
    }
}

/// <summary>
/// Answers one question: which runnable requests should run in the next step? Implementations give each queued
/// request a <see cref="Priority"/>; the base keeps them in an indexed heap, so a decision costs
/// O(B log B + B log n), never a sort of the queue. Policies are pure and deterministic: no clock, no
/// randomness, no I/O. Not thread-safe: one host (simulator or sidecar) drives a policy from one thread.
/// </summary>
public abstract class SchedulingPolicy
{
    private const int BoostLevel = -1_000_000;
    private readonly IndexedHeap _queue = new(0);
    private readonly IndexedHeap? _idle;
    private readonly StarvationGuard? _guard;
    private readonly List<PolicyEntry> _boosted = [];
    private long _levelSequence;

    protected SchedulingPolicy(PolicyContext context, StarvationGuard? guard)
    {
        context.Validate();
        guard?.Validate();
        Context = context;
        _guard = guard;
        _idle = guard is null ? null : new IndexedHeap(1);
    }

    public abstract string Name { get; }
    public PolicyContext Context { get; }

    /// <summary>Requests admitted and not yet finished or cancelled (running ones included).</summary>
    public int Count => _queue.Count;

    /// <summary>Decisions taken so far: the policy's notion of elapsed steps.</summary>
    public long Decisions { get; private set; }

    /// <summary>The priority of a request now; smaller runs first.</summary>
    protected abstract Priority KeyFor(RequestState request);

    /// <summary>The policy's estimate of a request's remaining execution time, when it has one.</summary>
    public virtual double? EstimatedRemainingSeconds(RequestState request) => null;

    /// <summary>
    /// Which of the policy's queues holds an admitted request now, 0 the highest (for metrics: the sidecar's
    /// <c>laps_requests_queued{level}</c>). Policies with a single queue answer 0.
    /// </summary>
    public virtual int QueueLevel(RequestState request) => 0;

    /// <summary>Hook when a request is admitted, before it gets its first key.</summary>
    protected virtual void OnAdmitted(RequestState request)
    {
    }

    /// <summary>Hook after a step's report was recorded on <paramref name="request"/>, before it is re-keyed.</summary>
    protected virtual void OnStepped(RequestState request)
    {
    }

    /// <summary>Hook when a request finished with its true length: learning policies may use it.</summary>
    public virtual void OnCompleted(RequestState request, int trueLength)
    {
    }

    /// <summary>Whether a request's key changes when it starts running (non-preemptive policies).</summary>
    protected virtual bool KeyDependsOnRunning => false;

    /// <summary>Queues a request with fresh policy state (no boost, no level, no scratch), whatever it went through before.</summary>
    public void Admit(RequestState request)
    {
        if (request.Entry is not null)
        {
            throw new InvalidOperationException($"request {request.Id} is already admitted");
        }

        var entry = new PolicyEntry(request) { LastServedDecision = Decisions };
        request.Entry = entry;
        OnAdmitted(request);
        _queue.Insert(entry, EffectiveKey(entry));
        _idle?.Insert(entry, IdleKey(entry));
    }

    /// <summary>Call after recording a step on a request that stays queued.</summary>
    public void Stepped(RequestState request)
    {
        OnStepped(request);
        var entry = EntryOf(request);
        _queue.Update(entry, EffectiveKey(entry));
    }

    /// <summary>Drops a request and the policy's state for it; a request this policy does not hold is ignored.</summary>
    public void Remove(RequestState request)
    {
        if (request.Entry is not { } entry || !_queue.Remove(entry))
        {
            return;
        }

        request.Entry = null;
        if (_idle is not null)
        {
            _idle.Remove(entry);
            _boosted.Remove(entry);
        }
    }

    public bool Contains(RequestState request) => request.Entry is { } entry && _queue.Contains(entry);

    /// <summary>
    /// Takes one decision: writes up to <c>output.Length</c> requests, best first, skipping those
    /// <paramref name="skip"/> turns down (the host's own constraints: another worker's batch, KV capacity). The
    /// host's predicate is asked in priority order, once per candidate, so it may keep a budget.
    /// </summary>
    public int Select(Span<RequestState> output, Func<RequestState, bool>? skip = null)
    {
        Decisions++;
        if (_guard is not null)
        {
            ExpireBoosts();
            PromoteStarving(_guard);
        }

        var n = _queue.TopK(output, skip);
        if (_idle is not null)
        {
            for (var i = 0; i < n; i++)
            {
                var entry = output[i].Entry!;
                entry.LastServedDecision = Decisions;
                _idle.Update(entry, IdleKey(entry));
            }
        }

        return n;
    }

    /// <summary>A request the host added to a decision after <see cref="Select"/> passed it over: it was served now.</summary>
    internal void Served(RequestState request)
    {
        if (_idle is not null && request.Entry is { } entry)
        {
            entry.LastServedDecision = Decisions;
            _idle.Update(entry, IdleKey(entry));
        }
    }

    /// <summary>Called by the host when a request's running flag changed.</summary>
    internal void RunningChanged(RequestState request)
    {
        if (KeyDependsOnRunning && request.Entry is { } entry && _queue.Contains(entry))
        {
            _queue.Update(entry, EffectiveKey(entry));
        }
    }

    /// <summary>Priority as currently held in the queue (for tests and preemption rules).</summary>
    public Priority CurrentKey(RequestState request) => _queue.KeyOf(EntryOf(request));

    /// <summary>A monotone counter for FCFS order inside a level (deterministic, no clock).</summary>
    protected long NextSequence() => ++_levelSequence;

    /// <summary>The policy's state for an admitted request.</summary>
    private protected static PolicyEntry EntryOf(RequestState request)
        => request.Entry ?? throw new InvalidOperationException($"request {request.Id} is not admitted");

    private Priority EffectiveKey(PolicyEntry e)
    {
        var key = KeyFor(e.Request);
        return e.BoostUntilDecision > Decisions ? key with { Level = BoostLevel } : key;
    }

    private static Priority IdleKey(PolicyEntry e) => new(0, e.LastServedDecision, e.Request.ArrivalTime, e.Request.Id);

    /// <summary>
    /// Ends the boosts whose last decision has passed. A key is otherwise recomputed only when a step is reported,
    /// one decision before it is used, so without this a boost lasted one decision too long for a request that ran,
    /// and indefinitely for one that did not run (reserved elsewhere, or more boosted requests than slots).
    /// </summary>
    private void ExpireBoosts()
    {
        for (var i = _boosted.Count - 1; i >= 0; i--)
        {
            var r = _boosted[i];
            if (r.BoostUntilDecision > Decisions)
            {
                continue;
            }

            _boosted[i] = _boosted[^1];
            _boosted.RemoveAt(_boosted.Count - 1);
            _queue.Update(r, EffectiveKey(r));
        }
    }

    private void PromoteStarving(StarvationGuard guard)
    {
        while (_idle!.Count > 0)
        {
            var oldest = _idle.Peek();
            if (Decisions - oldest.LastServedDecision < guard.IdleSteps)
            {
                break;
            }

            if (oldest.BoostUntilDecision <= Decisions)
            {
                _boosted.Add(oldest); // not boosted now (expired boosts were ended above): track the new one
            }

            oldest.BoostUntilDecision = Decisions + guard.BoostSteps;
            oldest.LastServedDecision = Decisions; // counts idleness afresh if the boost does not get it a slot
            _idle.Update(oldest, IdleKey(oldest));
            _queue.Update(oldest, EffectiveKey(oldest));
        }
    }
}
