using Laps.Scheduling;
using Laps.Scheduling.Kv;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Engine;

/// <summary>
/// Discrete-event simulation of a pool of <see cref="SimulationOptions.Workers"/> identical workers in virtual time,
/// driving the same <see cref="PoolScheduler"/> and policy objects as the live sidecar (late binding: one queue, one
/// policy, each worker takes its next batch when its step ends). Each worker has its own clock (busy until its step
/// ends) and its own <see cref="KvCache{T}"/>. The loop always advances the worker whose step ends first (ties by
/// worker index): it reports that step (replays each request's acceptance trace, finishes what ended), admits the
/// arrivals up to then, asks for the worker's next batch and costs it (prefill of new, moved and evicted requests, k
/// drafts and a verification of the batch). A worker with nothing to take waits for the next arrival or for another
/// worker's decision that preempts something. Deterministic: no clock, no randomness of its own; O(log N) per event.
/// </summary>
public sealed class Simulator
{
    private readonly SimulationOptions _options;

    public Simulator(SimulationOptions options)
    {
        if (options.Batch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Batch, "batch must be >= 1");
        }

        if (options.K < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.K, "speculation length k must be >= 1");
        }

        if (options.Workers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Workers, "workers must be >= 1");
        }

        _options = options;
    }

    /// <summary>Reference step cost of one worker at this batch size, as the policies' estimator uses it.</summary>
    public static double ReferenceStepSeconds(SimulationOptions options, IReadOnlyList<SimulatedRequest> requests)
    {
        var meanContext = requests.Count == 0 ? 0 : requests.Average(r => r.PromptTokens + (r.Length / 2.0));
        return options.StepTime.StepSeconds(options.Proposer, options.K, options.Batch, 0, (long)(options.Batch * meanContext));
    }

    /// <summary>Runs every request to completion; <paramref name="onStep"/>, when given, hears each step as it is decided.</summary>
    public SimulationOutcome Run(IReadOnlyList<SimulatedRequest> requests, SchedulingPolicy policy, ILengthPredictor predictor, Action<SimulatedStep>? onStep = null)
        => new Pool(_options, requests, policy, predictor, onStep).Run();

    /// <summary>One run's state: the scheduler, the workers, the requests and what has been measured so far.</summary>
    private sealed class Pool
    {
        private readonly SimulationOptions _options;
        private readonly IReadOnlyList<SimulatedRequest> _requests;
        private readonly SchedulingPolicy _policy;
        private readonly Action<SimulatedStep>? _onStep;
        private readonly PoolScheduler _scheduler;
        private readonly Worker[] _workers;
        private readonly Slot[] _slots;
        private readonly int[] _order;

        // Busy workers by the end of their step, ties by index; idle ones by index.
        private readonly PriorityQueue<Worker, (double End, int Index)> _busy = new();
        private readonly SortedSet<int> _idle = [];
        private readonly List<Slot> _evicted = [];
        private readonly List<Slot> _admitted = [];

        private readonly double[] _latencies;
        private readonly double[] _ttfts;
        private readonly double[] _finishTimes;
        private long _steps, _recomputed, _preemptions;
        private double _now, _busySeconds, _apeSum;
        private int _apeCount, _finished, _next;

        // Requests in some worker's batch, the worker being stepped excluded between its report and its next decision.
        private int _running;

        public Pool(SimulationOptions options, IReadOnlyList<SimulatedRequest> requests, SchedulingPolicy policy, ILengthPredictor predictor, Action<SimulatedStep>? onStep)
        {
            _options = options;
            _requests = requests;
            _policy = policy;
            _onStep = onStep;
            _scheduler = new PoolScheduler(policy, predictor, options.FairShare);
            _workers = new Worker[options.Workers];
            for (var i = 0; i < _workers.Length; i++)
            {
                // The scheduler does not budget KV: each worker's cache makes room by evicting outside the batch.
                _workers[i] = new Worker(_scheduler.AddWorker(options.Batch), new KvCache<Slot>(options.KvCapacityTokens));
                _idle.Add(i);
            }

            var n = requests.Count;
            _slots = new Slot[n];
            _latencies = new double[n];
            _ttfts = new double[n];
            _finishTimes = new double[n];

            // Arrival order; ties by index so the order is total.
            _order = new int[n];
            for (var i = 0; i < n; i++)
            {
                _order[i] = i;
            }

            Array.Sort(_order, (a, b) => requests[a].ArrivalTime != requests[b].ArrivalTime ? requests[a].ArrivalTime.CompareTo(requests[b].ArrivalTime) : a.CompareTo(b));
        }

        public SimulationOutcome Run()
        {
            var n = _requests.Count;
            while (_finished < n)
            {
                // An arrival is an event only for an idle worker: a busy one admits it when its step ends.
                var stepEnd = _busy.TryPeek(out var worker, out var key) ? key.End : double.PositiveInfinity;
                var arrival = _idle.Count > 0 && _next < n ? _requests[_order[_next]].ArrivalTime : double.PositiveInfinity;
                if (double.IsPositiveInfinity(stepEnd) && double.IsPositiveInfinity(arrival))
                {
                    throw new InvalidOperationException($"{n - _finished} requests are pending but no worker takes any of them");
                }

                if (stepEnd <= arrival)
                {
                    _busy.Dequeue();
                    _now = stepEnd;
                    Report(worker!);
                    Admit();
                    Start(worker!);
                }
                else
                {
                    _now = arrival;
                    Admit();
                }

                // Arrivals and preemptions may leave work that idle workers can take now.
                while (_idle.Count > 0 && Available > 0 && Start(_workers[_idle.Min]))
                {
                }
            }

            return new SimulationOutcome(
                _latencies,
                _ttfts,
                n == 0 ? 0 : (double)_preemptions / n,
                _apeCount == 0 ? null : _apeSum / _apeCount,
                _busySeconds,
                _now,
                _steps,
                _recomputed,
                _finishTimes);
        }

        // Pending requests no other worker is running (the worker being decided has been taken out of _running).
        private int Available => _scheduler.Pending - _running;

        private void Admit()
        {
            var k = _options.K;
            while (_next < _requests.Count && _requests[_order[_next]].ArrivalTime <= _now)
            {
                var r = _requests[_order[_next++]];
                var state = new RequestState(r.Index, r.ArrivalTime, r.PromptTokens)
                {
                    Oracle = new OracleInfo(r.Length, r.TrueAcceptance(k)),
                    PromptTokenIds = r.PromptTokenIds,
                    Tenant = r.Tenant,
                };
                _slots[r.Index] = new Slot(r, state);
                _scheduler.Admit(state);
                if (_onStep is not null)
                {
                    _admitted.Add(_slots[r.Index]);
                }
            }
        }

        /// <summary>Decides and costs the worker's next step; false (and the worker idle) when it has nothing to run.</summary>
        private bool Start(Worker worker)
        {
            var index = worker.Core.Index;
            _idle.Remove(index);

            // No decision when every pending request runs elsewhere (a decision counts in the policy's state).
            var decision = Available > 0 ? _scheduler.Decide(worker.Core) : null;
            var batch = decision?.Selected ?? [];
            if (batch.Count == 0)
            {
                _idle.Add(index);
                return false;
            }

            _running += batch.Count;
            var waiting = _onStep is null ? null : Waiting();

            foreach (var (moved, _) in decision!.Moved)
            {
                _slots[moved.Id].Evict(); // its KV on the other worker is released: it recomputes here
            }

            if (_options.Resume == Experiments.ResumeMode.Recompute)
            {
                foreach (var p in decision.Preempted)
                {
                    _slots[p.Id].Evict();
                    _scheduler.Evicted(p);
                }
            }

            var kvCache = worker.Kv;
            long prefill = 0, kv = 0;
            kvCache.BeginBatch();
            for (var i = 0; i < batch.Count; i++)
            {
                var slot = _slots[batch[i].Id];
                var tokens = slot.Request.PromptTokens + slot.State.Generated;
                if (slot.Kv is { IsResident: true } resident)
                {
                    if (slot.KvOn != worker)
                    {
                        throw new InvalidOperationException($"request {slot.Request.Index} runs on worker {index} while its KV lives on worker {slot.KvOn!.Core.Index}");
                    }

                    kvCache.Touch(resident);
                }
                else
                {
                    prefill += tokens;
                    if (slot.Kv is not null)
                    {
                        _recomputed += tokens; // it ran before and lost its KV cache (evicted, or it moved)
                    }

                    slot.Kv = kvCache.Admit(slot, tokens);
                    slot.KvOn = worker;
                }

                kv += tokens;
            }

            // Over capacity: evict the least recently served sequences outside this batch. The step's own growth is
            // not reserved: the next placement makes room for it.
            kvCache.MakeRoom(growthTokens: 0, _evicted);
            foreach (var evicted in _evicted)
            {
                _scheduler.Evicted(evicted.State);
            }

            _evicted.Clear();

            var dt = _options.StepTime.StepSeconds(_options.Proposer, _options.K, batch.Count, prefill, kv);
            worker.StepSeconds = dt;
            for (var i = 0; i < batch.Count; i++)
            {
                worker.Step.Add(_slots[batch[i].Id]);
            }

            _busySeconds += dt;
            _steps++;
            _busy.Enqueue(worker, (_now + dt, index));
            _onStep?.Invoke(new SimulatedStep(
                index,
                _now,
                _now + dt,
                [.. batch.Select(IndexOf)],
                [.. decision.Prefill.Select(IndexOf)],
                [.. decision.Moved.Select(m => (IndexOf(m.Request), m.From.Index))],
                [.. decision.Preempted.Select(IndexOf)],
                waiting!));
            return true;
        }

        /// <summary>The worker's step ended at <see cref="_now"/>: replay it and report it to the scheduler.</summary>
        private void Report(Worker worker)
        {
            var k = _options.K;
            var dt = worker.StepSeconds;
            var step = worker.Step;
            _running -= step.Count;
            for (var i = 0; i < step.Count; i++)
            {
                var slot = step[i];
                var replay = AcceptanceReplay.Step(slot.Request.AccLen, slot.Position, k);
                var emitted = replay.Emitted;
                slot.Position = replay.NextPosition;

                // Preempting it after this step would drop its KV cache only when every preemption does.
                slot.State.ResumeCostSeconds = _options.Resume == Experiments.ResumeMode.Recompute
                    ? _options.StepTime.HardwareFactor * _options.StepTime.VerifyPerTokenSeconds * (slot.Request.PromptTokens + slot.State.Generated + emitted)
                    : 0;
                _scheduler.RecordStep(slot.State, emitted, replay.Drafted, replay.Accepted, dt, _now);
                worker.Kv.Grow(slot.Kv!, emitted);
                if (replay.Finished)
                {
                    Finish(slot);
                }
            }

            step.Clear();
        }

        private void Finish(Slot slot)
        {
            var s = slot.State;
            _scheduler.Finish(s, _now);
            slot.Evict();
            _latencies[slot.Request.Index] = _now - s.ArrivalTime;
            _ttfts[slot.Request.Index] = s.FirstTokenTime!.Value - s.ArrivalTime;
            _finishTimes[slot.Request.Index] = _now;
            _preemptions += s.Preemptions;
            if (s.EstimateAtPerceptible is double estimate)
            {
                var actual = (s.Steps - s.StepsAtPerceptible) * _policy.Context.StepSeconds;
                if (actual > 0)
                {
                    _apeSum += Math.Abs(estimate - actual) / actual;
                    _apeCount++;
                }
            }

            _finished++;
        }

        private int IndexOf(RequestState state) => _slots[state.Id].Request.Index;

        // For an observer only: what waits in no batch once the decision is taken, and where its KV lives (O(admitted)).
        private (int Request, int? KvOn)[] Waiting()
        {
            _admitted.RemoveAll(s => s.State.FinishTime is not null);
            return [.. _admitted
                .Where(s => _scheduler.RunningOn(s.State) is null)
                .Select(s => (s.Request.Index, _scheduler.ResidentOn(s.State)?.Index))];
        }
    }

    private sealed class Worker(PoolWorker core, KvCache<Slot> kv)
    {
        public PoolWorker Core { get; } = core;
        public KvCache<Slot> Kv { get; } = kv;

        /// <summary>The batch of the step in flight.</summary>
        public List<Slot> Step { get; } = [];

        public double StepSeconds { get; set; }
    }

    private sealed class Slot(SimulatedRequest request, RequestState state)
    {
        public SimulatedRequest Request { get; } = request;
        public RequestState State { get; } = state;
        public int Position { get; set; }

        /// <summary>Its place in a worker's KV cache since it first ran; not resident once evicted.</summary>
        public KvEntry<Slot>? Kv { get; set; }

        /// <summary>The worker whose cache <see cref="Kv"/> belongs to.</summary>
        public Worker? KvOn { get; set; }

        public void Evict()
        {
            if (Kv is not null)
            {
                KvOn!.Kv.Evict(Kv);
            }
        }
    }
}
