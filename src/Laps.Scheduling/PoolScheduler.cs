using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling;

/// <summary>A worker as the <see cref="PoolScheduler"/> sees it: how many sequences and KV tokens one step may use.</summary>
public sealed class PoolWorker
{
    internal PoolWorker(int index, int maxBatch, long kvCapacityTokens)
    {
        Index = index;
        MaxBatch = maxBatch;
        KvCapacityTokens = kvCapacityTokens;
        Buffer = new RequestState[maxBatch];
    }

    /// <summary>Position in the order workers were added; stable for the worker's life.</summary>
    public int Index { get; }

    public int MaxBatch { get; }

    /// <summary>KV tokens one step's batch may hold (prompts, generated tokens and the step's k + 1 new ones).</summary>
    public long KvCapacityTokens { get; }

    /// <summary>Tenants given one of this worker's remainder batch slots at its last fair-share decision.</summary>
    internal List<string> RemainderHolders { get; } = [];

    /// <summary>A retired worker takes no new work: it keeps only what it already holds, and only while no other worker can take it.</summary>
    public bool Retired { get; internal set; }

    /// <summary>The batch of this worker's last decision.</summary>
    public IReadOnlyList<RequestState> Running => RunningList;

    internal List<RequestState> RunningList { get; set; } = [];
    internal List<RequestState> Spare { get; set; } = [];
    internal RequestState[] Buffer { get; }
    /// <summary>Admitted requests whose KV lives on this worker.</summary>
    public int Resident { get; internal set; }
}

/// <summary>One worker's decision: its next batch, what lost its slot, and where each chosen sequence's KV must come from.</summary>
public sealed class BatchDecision
{
    internal List<RequestState> SelectedList { get; } = [];
    internal List<RequestState> PreemptedList { get; } = [];
    internal List<RequestState> PrefillList { get; } = [];
    internal List<(RequestState Request, PoolWorker From)> MovedList { get; } = [];

    public IReadOnlyList<RequestState> Selected => SelectedList;

    /// <summary>Requests that ran in this worker's last batch and lost their slot (their KV stays on the worker).</summary>
    public IReadOnlyList<RequestState> Preempted => PreemptedList;

    /// <summary>Selected requests whose KV is not on this worker: the step prefills (or recomputes) their prefix.</summary>
    public IReadOnlyList<RequestState> Prefill => PrefillList;

    /// <summary>Selected requests whose KV was on another worker, which may now release it.</summary>
    public IReadOnlyList<(RequestState Request, PoolWorker From)> Moved => MovedList;

    internal void Clear()
    {
        SelectedList.Clear();
        PreemptedList.Clear();
        PrefillList.Clear();
        MovedList.Clear();
    }
}

/// <summary>
/// The scheduling core over a pool of workers, as a host (the simulator or the live sidecar) drives it. Requests
/// wait in one queue ordered by one policy, not bound to a worker: each worker, when it is ready for its next step,
/// takes the best-ranked requests that no other worker is running and that fit its batch and KV capacity
/// (late binding), so the policy's order holds across the pool. A request keeps its KV where it last ran: a worker
/// takes a request whose KV lives on another worker only to fill slots nothing else fills (it then recomputes the
/// prefix). Preemption is not an action but a consequence: a request that ran in a worker's last batch and is not in
/// its next one is preempted. With fair share on and requests of two or more tenants pending, each worker's batch
/// slots are shared between the tenants (<see cref="FairShare"/>); with one tenant the policy's order is the whole
/// rule. Pure and deterministic; not thread-safe (a host serialises calls).
/// </summary>
public sealed class PoolScheduler
{
    private readonly ILengthPredictor _predictor;
    private readonly List<PoolWorker> _workers = [];
    private readonly Dictionary<RequestState, Placement> _placements = new(ReferenceEqualityComparer.Instance);
    private readonly BatchDecision _decision = new();
    private readonly List<RequestState> _deferred = [];
    private readonly Func<RequestState, bool> _skip;
    private readonly Dictionary<string, TenantAccount> _tenants = new(StringComparer.Ordinal);
    private readonly List<TenantAccount> _ranked = [];
    private readonly List<RequestState> _overShare = [];
    private PoolWorker? _deciding;
    private bool _fair;
    private Func<RequestState, bool>? _exclude;
    private long _budget;
    private bool _deferElsewhere;

    /// <param name="fairShare">Share each worker's batch slots between the tenants that have requests pending.</param>
    public PoolScheduler(SchedulingPolicy policy, ILengthPredictor predictor, bool fairShare = true)
    {
        Policy = policy;
        _predictor = predictor;
        FairShareEnabled = fairShare;
        _skip = Skip;
    }

    public SchedulingPolicy Policy { get; }

    /// <summary>Whether batch slots are shared between tenants (<see cref="FairShare"/>).</summary>
    public bool FairShareEnabled { get; }

    /// <summary>Tenants with requests pending (waiting or running).</summary>
    public int ActiveTenants => _tenants.Count;

    /// <summary>The tenant's requests admitted and not yet finished (running ones included).</summary>
    public int PendingOf(string tenant) => _tenants.TryGetValue(tenant, out var a) ? a.Pending : 0;

    /// <summary>The tenant's requests in some worker's current batch.</summary>
    public int RunningOf(string tenant) => _tenants.TryGetValue(tenant, out var a) ? a.Running : 0;

    /// <summary>
    /// Batch-slot seconds the tenant's requests attained while it was active, from the credit it started with (the
    /// least of the active tenants' then, so a tenant that returns does not claim the time it was away); 0 when it has
    /// nothing pending.
    /// </summary>
    public double AttainedOf(string tenant) => _tenants.TryGetValue(tenant, out var a) ? a.Attained : 0;

    /// <summary>Admitted requests not yet finished (running ones included).</summary>
    public int Pending => Policy.Count;

    public IReadOnlyList<PoolWorker> Workers => _workers;

    /// <summary>Requests in some worker's current batch.</summary>
    public int Running
    {
        get
        {
            var n = 0;
            foreach (var w in _workers)
            {
                n += w.RunningList.Count;
            }

            return n;
        }
    }

    /// <summary>Adds a worker; its index is its position among all workers ever added.</summary>
    public PoolWorker AddWorker(int maxBatch, long kvCapacityTokens = long.MaxValue)
    {
        if (maxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch size must be >= 1");
        }

        if (kvCapacityTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(kvCapacityTokens), kvCapacityTokens, "KV capacity must be >= 1 token");
        }

        var worker = new PoolWorker(_workers.Count, maxBatch, kvCapacityTokens);
        _workers.Add(worker);
        return worker;
    }

    /// <summary>The worker takes no new work; what it holds stays until <see cref="Lost"/> or it is decided elsewhere.</summary>
    public void Retire(PoolWorker worker) => worker.Retired = true;

    /// <summary>
    /// The worker lost every sequence (it failed, restarted or left): its batch stops running without counting as a
    /// preemption, and every request whose KV lived there will recompute its prefix wherever it runs next.
    /// </summary>
    public void Lost(PoolWorker worker)
    {
        foreach (var r in worker.RunningList)
        {
            if (_placements.TryGetValue(r, out var p))
            {
                p.RunningOn = null;
                SetRunning(r, false);
            }
        }

        worker.RunningList.Clear();
        if (worker.Resident == 0)
        {
            return;
        }

        foreach (var p in _placements.Values)
        {
            if (p.ResidentOn == worker)
            {
                p.ResidentOn = null;
            }
        }

        worker.Resident = 0;
    }

    /// <summary>The worker evicted the request's KV (it recomputes its prefix when it runs next).</summary>
    public void Evicted(RequestState request)
    {
        if (_placements.TryGetValue(request, out var p) && p.ResidentOn is { } worker)
        {
            worker.Resident--;
            p.ResidentOn = null;
        }
    }

    /// <summary>Where the request's KV lives now, if anywhere.</summary>
    public PoolWorker? ResidentOn(RequestState request) => _placements.TryGetValue(request, out var p) ? p.ResidentOn : null;

    /// <summary>The worker whose current batch holds the request, if any.</summary>
    public PoolWorker? RunningOn(RequestState request) => _placements.TryGetValue(request, out var p) ? p.RunningOn : null;

    public bool Contains(RequestState request) => _placements.ContainsKey(request);

    /// <summary>KV tokens a request needs for one more step: its prefix and the k + 1 tokens the step may add.</summary>
    public long StepKvTokens(RequestState request) => request.PromptTokens + request.Generated + Policy.Context.K + 1;

    public void Admit(RequestState request)
    {
        request.PredictedLength = Math.Max(1, _predictor.Predict(request));
        _placements.Add(request, new Placement());
        Policy.Admit(request);
        if (request.Perceptible)
        {
            request.PerceptibleAt ??= request.ArrivalTime; // perceptible on admission (no stability test to pass)
        }

        if (!_tenants.TryGetValue(request.Tenant, out var account))
        {
            var credit = double.PositiveInfinity;
            foreach (var other in _tenants.Values)
            {
                credit = Math.Min(credit, other.Attained);
            }

            account = new TenantAccount(request.Tenant) { Attained = double.IsPositiveInfinity(credit) ? 0 : credit };
            _tenants.Add(request.Tenant, account);
        }

        account.Pending++;
        request.Account = account;
    }

    /// <summary>
    /// Takes <paramref name="worker"/>'s next decision. The returned object is reused by the next call. A retired
    /// worker keeps running only the requests whose KV it holds. <paramref name="exclude"/> holds back requests the
    /// host cannot run now, whatever their rank.
    /// </summary>
    public BatchDecision Decide(PoolWorker worker, Func<RequestState, bool>? exclude = null)
    {
        _decision.Clear();
        _deferred.Clear();
        _deciding = worker;
        _exclude = exclude;
        _budget = worker.KvCapacityTokens;
        _deferElsewhere = true;
        _fair = FairShareEnabled && _tenants.Count > 1 && !worker.Retired;
        if (_fair)
        {
            AssignSlots(worker);
        }

        var buffer = worker.Buffer;
        var n = Policy.Select(buffer, _skip);

        // Slots a tenant could not fill with its own requests: the others' next-best ones, in the policy's order.
        if (_fair)
        {
            for (var i = 0; i < _overShare.Count && n < buffer.Length; i++)
            {
                var r = _overShare[i];
                var need = StepKvTokens(r);
                if (need <= _budget)
                {
                    _budget -= need;
                    buffer[n++] = r;
                    Policy.Served(r);
                }
            }

            _overShare.Clear();
            _fair = false;
        }

        // Slots nothing local filled: take requests whose KV lives on a worker that is not running them.
        for (var i = 0; i < _deferred.Count && n < buffer.Length && !worker.Retired; i++)
        {
            var r = _deferred[i];
            var need = StepKvTokens(r);
            if (need <= _budget)
            {
                _budget -= need;
                buffer[n++] = r;
                Policy.Served(r);
            }
        }

        _deciding = null;
        _exclude = null;
        var decisions = Policy.Decisions;
        var spare = worker.Spare;
        spare.Clear();
        for (var i = 0; i < n; i++)
        {
            var r = buffer[i];
            buffer[i] = null!;
            r.Entry!.SelectedInDecision = decisions;
            var p = _placements[r];
            p.RunningOn = worker;
            _decision.SelectedList.Add(r);
            spare.Add(r);
            if (p.ResidentOn != worker)
            {
                if (p.ResidentOn is { } from)
                {
                    from.Resident--;
                    _decision.MovedList.Add((r, from));
                }

                p.ResidentOn = worker;
                worker.Resident++;
                _decision.PrefillList.Add(r);
            }
        }

        foreach (var r in worker.RunningList)
        {
            if (r.Entry?.SelectedInDecision != decisions && _placements.TryGetValue(r, out var p) && p.RunningOn == worker)
            {
                r.Preemptions++;
                p.RunningOn = null;
                SetRunning(r, false);
                _decision.PreemptedList.Add(r);
            }
        }

        foreach (var r in spare)
        {
            SetRunning(r, true);
        }

        (worker.RunningList, worker.Spare) = (spare, worker.RunningList);
        return _decision;
    }

    /// <summary>Records what one step did for a request of a worker's current batch.</summary>
    public void RecordStep(RequestState request, int emitted, int drafted, int accepted, double stepSeconds, double now)
    {
        request.RecordStep(emitted, drafted, accepted, stepSeconds, now);
        if (request.Account is { } account)
        {
            account.Attained += stepSeconds;
        }

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
        if (!_placements.Remove(request, out var p))
        {
            return;
        }

        Policy.Remove(request);
        if (request.Account is { } account)
        {
            if (request.Running)
            {
                account.Running--;
            }

            if (--account.Pending == 0)
            {
                _tenants.Remove(account.Name);
            }

            request.Account = null;
        }

        request.Running = false;
        if (p.RunningOn is { } worker)
        {
            worker.RunningList.Remove(request);
        }

        if (p.ResidentOn is { } home)
        {
            home.Resident--;
        }
    }

    private void SetRunning(RequestState r, bool running)
    {
        if (r.Running != running)
        {
            r.Running = running;
            if (r.Account is { } account)
            {
                account.Running += running ? 1 : -1;
            }

            Policy.RunningChanged(r);
        }
    }

    /// <summary>
    /// Gives each active tenant its slots of a batch of <paramref name="batch"/>: an equal number, and one more to
    /// each of the <c>batch mod tenants</c> tenants with the least attained service (ties by name), so that at batch 1
    /// the least-served tenant runs.
    /// </summary>
    private void AssignSlots(PoolWorker worker)
    {
        // A tenant that held one of this worker's remainder slots keeps it until it is FairShare.QuantumSeconds ahead:
        // handing the slot over at every step would preempt (and, on an engine, re-prefill) a request per step.
        var holders = worker.RemainderHolders;
        _ranked.Clear();
        foreach (var account in _tenants.Values)
        {
            account.Taken = 0;
            account.Rank = account.Attained - (holders.Contains(account.Name) ? FairShare.QuantumSeconds : 0);
            _ranked.Add(account);
        }

        _ranked.Sort(static (a, b) => a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : string.CompareOrdinal(a.Name, b.Name));
        var each = worker.MaxBatch / _ranked.Count;
        var extra = worker.MaxBatch % _ranked.Count;
        holders.Clear();
        for (var i = 0; i < _ranked.Count; i++)
        {
            _ranked[i].Quota = each + (i < extra ? 1 : 0);
            if (i < extra)
            {
                holders.Add(_ranked[i].Name);
            }
        }
    }

    // Called by the policy in priority order while it fills _deciding's batch: answers "not this one".
    private bool Skip(RequestState r)
    {
        var worker = _deciding!;
        if (_exclude?.Invoke(r) == true)
        {
            return true;
        }

        var p = _placements[r];
        if (p.RunningOn is { } running && running != worker)
        {
            return true; // another worker's batch
        }

        if (p.ResidentOn is { } home && home != worker)
        {
            if (_deferElsewhere && p.RunningOn is null)
            {
                _deferred.Add(r); // its KV lives elsewhere: only if nothing local fills the slot
            }

            return true;
        }

        if (worker.Retired && p.ResidentOn != worker)
        {
            return true;
        }

        if (_fair && r.Account is { } account && account.Taken >= account.Quota)
        {
            _overShare.Add(r); // its tenant's slots are taken: only if another tenant leaves one empty
            return true;
        }

        var need = StepKvTokens(r);
        if (need > _budget)
        {
            return true; // does not fit this step's KV next to better-ranked ones; smaller ones may
        }

        _budget -= need;
        if (_fair)
        {
            r.Account!.Taken++;
        }

        return false;
    }

    private sealed class Placement
    {
        public PoolWorker? RunningOn;
        public PoolWorker? ResidentOn;
    }
}
