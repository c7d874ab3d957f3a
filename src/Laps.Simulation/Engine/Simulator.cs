using Laps.Scheduling;
using Laps.Scheduling.Kv;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Engine;

/// <summary>
/// Discrete-event simulation of one worker in virtual time, driving the same <see cref="BatchScheduler"/> and
/// policy objects as the live sidecar. Each iteration: admit arrivals up to now, ask for a batch, cost the step
/// (prefill of newcomers, recompute of evicted resumes, k drafts and a verification of the batch), replay each
/// request's acceptance trace for one step, report. Deterministic: no clock, no randomness of its own.
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

        _options = options;
    }

    /// <summary>Reference step cost at this batch size, as the policies' estimator uses it.</summary>
    public static double ReferenceStepSeconds(SimulationOptions options, IReadOnlyList<SimulatedRequest> requests)
    {
        var meanContext = requests.Count == 0 ? 0 : requests.Average(r => r.PromptTokens + (r.Length / 2.0));
        return options.StepTime.StepSeconds(options.Proposer, options.K, options.Batch, 0, (long)(options.Batch * meanContext));
    }

    public SimulationOutcome Run(IReadOnlyList<SimulatedRequest> requests, SchedulingPolicy policy, ILengthPredictor predictor)
    {
        var k = _options.K;
        var scheduler = new BatchScheduler(policy, predictor, _options.Batch);
        var n = requests.Count;
        var states = new Slot[n];
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        // Arrival order; ties by index so the order is total.
        Array.Sort(order, (a, b) => requests[a].ArrivalTime != requests[b].ArrivalTime ? requests[a].ArrivalTime.CompareTo(requests[b].ArrivalTime) : a.CompareTo(b));

        var latencies = new double[n];
        var ttfts = new double[n];
        var finishTimes = new double[n];
        var kvCache = new KvCache<Slot>(_options.KvCapacityTokens);
        long steps = 0, recomputed = 0;
        double now = 0, busy = 0, apeSum = 0;
        int apeCount = 0, finished = 0, next = 0;
        long preemptions = 0;

        while (finished < n)
        {
            while (next < n && requests[order[next]].ArrivalTime <= now)
            {
                var r = requests[order[next++]];
                var state = new RequestState(r.Index, r.ArrivalTime, r.PromptTokens)
                {
                    Oracle = new OracleInfo(r.Length, r.TrueAcceptance(k)),
                    PromptTokenIds = r.PromptTokenIds,
                };
                states[r.Index] = new Slot(r, state);
                scheduler.Admit(state);
            }

            if (scheduler.Pending == 0)
            {
                now = requests[order[next]].ArrivalTime;
                continue;
            }

            var decision = scheduler.Decide();
            if (_options.Resume == Experiments.ResumeMode.Recompute)
            {
                foreach (var p in decision.Preempted)
                {
                    states[p.Id].Evict(kvCache);
                }
            }

            long prefill = 0, kv = 0;
            var batch = decision.Selected;
            kvCache.BeginBatch();
            for (var i = 0; i < batch.Count; i++)
            {
                var slot = states[batch[i].Id];
                var tokens = slot.Request.PromptTokens + slot.State.Generated;
                if (slot.Kv is { IsResident: true } resident)
                {
                    kvCache.Touch(resident);
                }
                else
                {
                    prefill += tokens;
                    if (slot.Kv is not null)
                    {
                        recomputed += tokens; // it ran before and lost its KV cache
                    }

                    slot.Kv = kvCache.Admit(slot, tokens);
                }

                kv += tokens;
            }

            // Over capacity: evict the least recently served sequences outside this batch. The step's own growth is
            // not reserved: the next placement makes room for it.
            kvCache.MakeRoom(growthTokens: 0);

            var dt = _options.StepTime.StepSeconds(_options.Proposer, k, batch.Count, prefill, kv);
            now += dt;
            busy += dt;
            steps++;

            for (var i = 0; i < batch.Count; i++)
            {
                var slot = states[batch[i].Id];
                var replay = AcceptanceReplay.Step(slot.Request.AccLen, slot.Position, k);
                var emitted = replay.Emitted;
                slot.Position = replay.NextPosition;

                // Preempting it after this step would drop its KV cache only when every preemption does.
                slot.State.ResumeCostSeconds = _options.Resume == Experiments.ResumeMode.Recompute
                    ? _options.StepTime.HardwareFactor * _options.StepTime.VerifyPerTokenSeconds * (slot.Request.PromptTokens + slot.State.Generated + emitted)
                    : 0;
                scheduler.RecordStep(slot.State, emitted, replay.Drafted, replay.Accepted, dt, now);
                kvCache.Grow(slot.Kv!, emitted);
                if (replay.Finished)
                {
                    var s = slot.State;
                    scheduler.Finish(s, now);
                    slot.Evict(kvCache);
                    latencies[slot.Request.Index] = now - s.ArrivalTime;
                    ttfts[slot.Request.Index] = s.FirstTokenTime!.Value - s.ArrivalTime;
                    finishTimes[slot.Request.Index] = now;
                    preemptions += s.Preemptions;
                    if (s.EstimateAtPerceptible is double estimate)
                    {
                        var actual = (s.Steps - s.StepsAtPerceptible) * policy.Context.StepSeconds;
                        if (actual > 0)
                        {
                            apeSum += Math.Abs(estimate - actual) / actual;
                            apeCount++;
                        }
                    }

                    finished++;
                }
            }
        }

        return new SimulationOutcome(
            latencies,
            ttfts,
            n == 0 ? 0 : (double)preemptions / n,
            apeCount == 0 ? null : apeSum / apeCount,
            busy,
            now,
            steps,
            recomputed,
            finishTimes);
    }

    private sealed class Slot(SimulatedRequest request, RequestState state)
    {
        public SimulatedRequest Request { get; } = request;
        public RequestState State { get; } = state;
        public int Position { get; set; }

        /// <summary>Its place in the KV cache since it first ran; not resident once evicted.</summary>
        public KvEntry<Slot>? Kv { get; set; }

        public void Evict(KvCache<Slot> kvCache)
        {
            if (Kv is not null)
            {
                kvCache.Evict(Kv);
            }
        }
    }
}
