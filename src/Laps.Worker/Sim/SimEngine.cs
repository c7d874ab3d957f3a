using System.Globalization;
using Laps.Scheduling.Kv;
using Laps.Simulation.Workloads;
using Laps.Worker.Identity;
using Laps.Worker.V1;

namespace Laps.Worker.Sim;

/// <summary>
/// The sim engine's state machine, without gRPC or a clock: the sequences a worker holds, their KV cache (the
/// simulator's <see cref="KvCache{T}"/>: the same accounting and LRU eviction), and the replay of each sequence's
/// acceptance trace step by step. A Step returns how long the steps take by the step-time model; waiting that long is
/// the caller's business.
/// </summary>
/// <remarks>
/// <para>Lifecycle: a sequence the engine does not hold is created from its prompt (+ generated ids) and prefilled in
/// the call's first step; it is held until it finishes (its KV is freed at once), is released, or is evicted. A
/// recomputed sequence resumes at output position len(generated ids), which is where the replay stood, so a sequence
/// moved between workers or evicted continues exactly as if it had stayed.</para>
/// <para>KV accounting: a sequence holds prompt + generated tokens. A Step reserves, for each batch sequence, its
/// tokens plus the most it can grow in the call (steps·(k+1), capped by max_tokens and the trace's end); when held
/// sequences outside the batch do not leave room, the least recently stepped are evicted first.</para>
/// <para>Identity: a sequence belongs to the incarnation that created it (<see cref="Incarnation"/>): a Step or Release
/// from another caller that names it is refused, and so is a Step that names a held sequence with another prompt. A
/// call from a newer incarnation of a scheduler drops the sequences of the one it supersedes
/// (<see cref="IncarnationFence"/>, reported by <see cref="SequencesFenced"/>).</para>
/// <para>Thread-safe: every public member takes one lock, so Release may run while a Step's caller waits out the
/// step time. Callers serialize Steps themselves (one GPU).</para>
/// </remarks>
public sealed class SimEngine
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HeldSequence> _held = new(StringComparer.Ordinal);
    private readonly KvCache<HeldSequence> _kv;
    private readonly SimWorkerOptions _options;
    private readonly AcceptanceSource _acceptance;
    private readonly IncarnationFence _fence;

    public SimEngine(SimWorkerOptions options, AcceptanceSource acceptance, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(acceptance);
        options.Validate();
        if (acceptance.Proposer != options.Proposer)
        {
            throw new ArgumentException("the acceptance source replays another proposer than the options name", nameof(acceptance));
        }

        _options = options;
        _acceptance = acceptance;
        _kv = new KvCache<HeldSequence>(options.KvCapacityTokens);
        _fence = new IncarnationFence(time ?? TimeProvider.System);
    }

    /// <summary>
    /// Raised when a call from a newer incarnation dropped the sequences of an older one, under the engine's lock:
    /// handlers must be brief and must not call the engine.
    /// </summary>
    public event Action<Fenced>? SequencesFenced;

    public SimWorkerOptions Options => _options;

    public long KvTokensInUse
    {
        get
        {
            lock (_lock)
            {
                return _kv.TokensInUse;
            }
        }
    }

    public int HeldSequences
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    public bool Holds(string sequenceId)
    {
        lock (_lock)
        {
            return _held.ContainsKey(sequenceId);
        }
    }

    /// <summary>
    /// A call from <paramref name="caller"/> that touches no sequence (Describe): a newer incarnation fences the older
    /// one's sequences. Throws <see cref="WorkerException"/> (FAILED_PRECONDITION) for a superseded incarnation.
    /// </summary>
    public void Admit(Incarnation caller)
    {
        lock (_lock)
        {
            Fence(caller);
        }
    }

    /// <summary>
    /// Runs up to <paramref name="steps"/> SD steps on <paramref name="batch"/> for <paramref name="caller"/> (default:
    /// an anonymous one). Throws <see cref="WorkerException"/> (before any of its sequences changes) for a request the
    /// protocol rejects; a newer incarnation has fenced the older one's sequences even then.
    /// </summary>
    public StepOutcome Step(IReadOnlyList<SequenceRequest> batch, int steps, Incarnation? caller = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ValidateShape(batch, steps, _options.MaxStepsPerCall, _options.MaxBatch);
        caller ??= Incarnation.Anonymous;
        var k = _options.K;
        lock (_lock)
        {
            Fence(caller);

            // 1. Resolve each sequence: held (by this caller, with this prompt), or new (needs its prompt). Nothing
            // changes until all are resolved.
            var members = new Member[batch.Count];
            long reserve = 0, growth = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var input = batch[i];
                var maxTokens = input.MaxTokens == 0 ? _options.DefaultMaxTokens : input.MaxTokens;
                if (_held.TryGetValue(input.SequenceId, out var held))
                {
                    CheckHeld(input, held.Owner, held.PromptHash, caller);
                    members[i] = new Member(held, maxTokens, Prefill: false);
                }
                else
                {
                    if (input.PromptTokenIds.Length == 0)
                    {
                        throw new WorkerException(WorkerErrorKind.InvalidArgument,
                            $"sequence '{input.SequenceId}' is not held by this worker (new, released or evicted) and carries no prompt_token_ids: send its prompt and generated_token_ids to recompute it");
                    }

                    var script = _acceptance.ScriptFor(input.PromptTokenIds, input.Seed);
                    members[i] = new Member(new HeldSequence(input.SequenceId, input.PromptTokenIds, input.GeneratedTokenIds, script, caller), maxTokens, Prefill: true)
                    {
                        CachedTokens = Math.Clamp(input.CachedTokens, 0, input.PromptTokenIds.Length + input.GeneratedTokenIds.Length),
                    };
                }

                // A newcomer whose prefix already finished it is never admitted, so it reserves nothing.
                var grows = members[i].Growth(steps, k);
                growth += grows;
                reserve += members[i] is { Prefill: true, AlreadyDone: true } ? 0 : members[i].Sequence.KvTokens + grows;
            }

            // 2. Capacity: the batch alone must fit.
            if (reserve > _kv.CapacityTokens)
            {
                throw new WorkerException(WorkerErrorKind.ResourceExhausted, string.Create(CultureInfo.InvariantCulture,
                    $"the batch needs up to {reserve} KV tokens (prompts, generated tokens and {steps} steps of growth) but kv_capacity_tokens is {_kv.CapacityTokens}: send fewer or shorter sequences, or fewer steps"));
            }

            // 3. Admit newcomers and mark the batch most recently used, in batch order; then evict the least recently
            // stepped sequences outside it until the batch's growth fits.
            long prefillTokens = 0;
            _kv.BeginBatch();
            foreach (var member in members)
            {
                var sequence = member.Sequence;
                if (member.Prefill)
                {
                    if (member.AlreadyDone)
                    {
                        continue; // nothing to compute: it finishes without joining the batch
                    }

                    prefillTokens += sequence.KvTokens - member.CachedTokens;
                    _held.Add(sequence.Id, sequence);
                    sequence.Kv = _kv.Admit(sequence, sequence.KvTokens);
                }
                else
                {
                    _kv.Touch(sequence.Kv!);
                }
            }

            var evicted = new List<HeldSequence>();
            _kv.MakeRoom(growth, evicted);
            foreach (var sequence in evicted)
            {
                _held.Remove(sequence.Id);
            }

            // 4. Run the steps. Sequences finished by their prefix (or by a lowered max_tokens) take none.
            var tallies = new Tally[members.Length];
            for (var i = 0; i < members.Length; i++)
            {
                tallies[i] = new Tally { Finish = members[i].FinishBeforeStart };
            }

            double seconds = 0;
            var stepsRun = 0;
            for (var s = 0; s < steps; s++)
            {
                var active = 0;
                long kv = 0;
                for (var i = 0; i < members.Length; i++)
                {
                    if (tallies[i].Finish == SequenceFinish.None)
                    {
                        active++;
                        kv += members[i].Sequence.KvTokens;
                    }
                }

                if (active == 0)
                {
                    break;
                }

                seconds += _options.StepTime.StepSeconds(_options.Proposer, k, active, s == 0 ? prefillTokens : 0, kv);
                stepsRun++;
                for (var i = 0; i < members.Length; i++)
                {
                    if (tallies[i].Finish == SequenceFinish.None)
                    {
                        Advance(members[i], tallies[i], k, prefillOnly: s == 0 && members[i].Prefill && !_options.PrefillStepDecodes);
                    }
                }
            }

            // 5. Finished sequences free their KV at once.
            var outputs = new SequenceResult[members.Length];
            for (var i = 0; i < members.Length; i++)
            {
                var member = members[i];
                var tally = tallies[i];
                if (tally.Finish != SequenceFinish.None && _held.ContainsKey(member.Sequence.Id))
                {
                    Remove(member.Sequence);
                }

                outputs[i] = new SequenceResult(
                    member.Sequence.Id,
                    tally.Tokens,
                    SimVocabulary.Text(tally.Tokens),
                    tally.Steps,
                    tally.Drafted,
                    tally.Accepted,
                    tally.Finish,
                    member.Prefill && !member.AlreadyDone);
            }

            return new StepOutcome(outputs, stepsRun, seconds, _kv.TokensInUse, evicted.ConvertAll(e => e.Id));
        }
    }

    /// <summary>
    /// Drops these sequences' state for <paramref name="caller"/> (default: an anonymous one); unknown ids are ignored.
    /// Returns how many were held. Throws <see cref="WorkerException"/> (FAILED_PRECONDITION, before any sequence
    /// changes) when one is held for another caller, or the caller is superseded.
    /// </summary>
    public int Release(IEnumerable<string> sequenceIds, Incarnation? caller = null)
    {
        ArgumentNullException.ThrowIfNull(sequenceIds);
        caller ??= Incarnation.Anonymous;
        lock (_lock)
        {
            Fence(caller);
            var held = new HashSet<HeldSequence>();
            foreach (var id in sequenceIds)
            {
                if (_held.TryGetValue(id, out var sequence))
                {
                    if (!sequence.Owner.IsSameAs(caller))
                    {
                        throw new WorkerException(WorkerErrorKind.FailedPrecondition, NotYours(id, caller));
                    }

                    held.Add(sequence);
                }
            }

            foreach (var sequence in held)
            {
                Remove(sequence);
            }

            return held.Count;
        }
    }

    /// <summary>
    /// Drops those of these sequences that <paramref name="caller"/> holds, without a word (a cancelled Step, a stop
    /// string): unlike <see cref="Release"/> it never refuses.
    /// </summary>
    public void Drop(IEnumerable<string> sequenceIds, Incarnation caller)
    {
        ArgumentNullException.ThrowIfNull(sequenceIds);
        ArgumentNullException.ThrowIfNull(caller);
        lock (_lock)
        {
            foreach (var id in sequenceIds)
            {
                if (_held.TryGetValue(id, out var sequence) && sequence.Owner.IsSameAs(caller))
                {
                    Remove(sequence);
                }
            }
        }
    }

    /// <summary>
    /// The identity checks of a Step naming a sequence the worker holds, shared by every engine: it must be the
    /// caller's, and the prompt the Step claims (if any) must be the one it holds. Throws <see cref="WorkerException"/>
    /// (FAILED_PRECONDITION) naming the sequence.
    /// </summary>
    public static void CheckHeld(SequenceRequest input, Incarnation owner, ulong promptHash, Incarnation caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(caller);
        if (!owner.IsSameAs(caller))
        {
            throw new WorkerException(WorkerErrorKind.FailedPrecondition, NotYours(input.SequenceId, caller));
        }

        if (input.ClaimedPromptHash is { } claimed && claimed != promptHash)
        {
            throw new WorkerException(WorkerErrorKind.FailedPrecondition,
                $"sequence '{input.SequenceId}' is held for another prompt (prompt_hash {PromptHash.Format(promptHash)}; this Step's is {PromptHash.Format(claimed)}): a sequence id names one prompt for its whole life; send a new id for a new prompt");
        }
    }

    internal static string NotYours(string sequenceId, Incarnation caller)
        => $"sequence '{sequenceId}' is held for another caller, not for {caller}: a sequence can be stepped and released only by the scheduler incarnation that created it";

    // Under the lock: the handlers of SequencesFenced run under it too.
    private void Fence(Incarnation caller)
    {
        if (_fence.Admit(caller) is not { } superseded)
        {
            return;
        }

        var dropped = _held.Values.Where(s => s.Owner.IsSameAs(superseded)).ToList();
        foreach (var sequence in dropped)
        {
            Remove(sequence);
        }

        SequencesFenced?.Invoke(new Fenced(superseded, caller, dropped.ConvertAll(s => s.Id)));
    }

    /// <summary>
    /// The protocol's checks of a Step's shape (batch size, steps, ids, max_tokens, token ids), shared by every engine:
    /// throws <see cref="WorkerException"/> naming the value at fault.
    /// </summary>
    public static void ValidateShape(IReadOnlyList<SequenceRequest> batch, int steps, int maxStepsPerCall, int maxBatch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            throw new WorkerException(WorkerErrorKind.InvalidArgument, "batch is empty: a Step needs at least one sequence");
        }

        if (steps < 1 || steps > maxStepsPerCall)
        {
            throw new WorkerException(WorkerErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                $"steps = {steps} is out of range: must be in 1..{maxStepsPerCall} (max_steps_per_call)"));
        }

        if (batch.Count > maxBatch)
        {
            throw new WorkerException(WorkerErrorKind.ResourceExhausted, string.Create(CultureInfo.InvariantCulture,
                $"batch of {batch.Count} sequences exceeds max_batch {maxBatch}"));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in batch)
        {
            ArgumentNullException.ThrowIfNull(input);
            if (string.IsNullOrEmpty(input.SequenceId))
            {
                throw new WorkerException(WorkerErrorKind.InvalidArgument, "a sequence has an empty sequence_id");
            }

            if (!seen.Add(input.SequenceId))
            {
                throw new WorkerException(WorkerErrorKind.InvalidArgument, $"sequence_id '{input.SequenceId}' appears twice in the batch");
            }

            if (input.MaxTokens < 0)
            {
                throw new WorkerException(WorkerErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                    $"sequence '{input.SequenceId}': max_tokens = {input.MaxTokens} must be >= 0 (0: the worker default)"));
            }

            CheckTokenIds(input.SequenceId, "prompt_token_ids", input.PromptTokenIds);
            CheckTokenIds(input.SequenceId, "generated_token_ids", input.GeneratedTokenIds);
            if (input.PromptHash is { } sent && input.PromptTokenIds.Length > 0 && PromptHash.Of(input.PromptTokenIds) is var actual && actual != sent)
            {
                throw new WorkerException(WorkerErrorKind.InvalidArgument,
                    $"sequence '{input.SequenceId}': prompt_hash {PromptHash.Format(sent)} is not the hash of its prompt_token_ids ({PromptHash.Format(actual)})");
            }
        }
    }

    private static void CheckTokenIds(string sequenceId, string field, int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0)
            {
                throw new WorkerException(WorkerErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                    $"sequence '{sequenceId}': {field}[{i}] = {ids[i]} is not a token id (must be >= 0)"));
            }
        }
    }

    private void Advance(Member member, Tally tally, int k, bool prefillOnly)
    {
        var sequence = member.Sequence;
        var replay = AcceptanceReplay.Step(sequence.Script.AccLen, sequence.Generated.Count, k);
        if (prefillOnly)
        {
            // A real engine's prefill samples one token of its own and verifies no drafts.
            replay = replay with { Emitted = 1, Drafted = 0, Accepted = 0, NextPosition = sequence.Generated.Count + 1, Finished = sequence.Generated.Count + 1 >= sequence.Script.AccLen.Length };
        }

        var room = member.MaxTokens - sequence.Generated.Count;
        var emitted = Math.Min(replay.Emitted, room);
        for (var j = 0; j < emitted; j++)
        {
            var token = sequence.Script.TokenAt(sequence.Generated.Count);
            sequence.Generated.Add(token);
            tally.Tokens.Add(token);
        }

        _kv.Grow(sequence.Kv!, emitted);

        tally.Steps++;
        tally.Drafted += replay.Drafted;
        tally.Accepted += replay.Accepted;

        // The end of sequence wins when it falls within max_tokens; otherwise the cut is LENGTH.
        if (replay.Finished && replay.Emitted <= room)
        {
            tally.Finish = SequenceFinish.Stop;
        }
        else if (sequence.Generated.Count >= member.MaxTokens)
        {
            tally.Finish = SequenceFinish.Length;
        }
    }

    private void Remove(HeldSequence sequence)
    {
        _held.Remove(sequence.Id);
        _kv.Evict(sequence.Kv!);
    }

    /// <summary>A sequence's state: its owner, its prefix and its place in the replay (position = tokens generated).</summary>
    private sealed class HeldSequence(string id, int[] prompt, int[] generated, SequenceScript script, Incarnation owner)
    {
        public string Id { get; } = id;

        public Incarnation Owner { get; } = owner;

        public int[] Prompt { get; } = prompt;

        public ulong PromptHash { get; } = V1.PromptHash.Of(prompt);

        public List<int> Generated { get; } = [.. generated];

        public SequenceScript Script { get; } = script;

        /// <summary>Its place in the KV cache while held.</summary>
        public KvEntry<HeldSequence>? Kv { get; set; }

        public long KvTokens => Prompt.Length + Generated.Count;

        public int RemainingInTrace => Math.Max(0, Script.AccLen.Length - Generated.Count);
    }

    private sealed record Member(HeldSequence Sequence, int MaxTokens, bool Prefill)
    {
        /// <summary>Prefix tokens a prefix cache serves on this (re)prefill.</summary>
        public int CachedTokens { get; init; }

        /// <summary>Finished before any step: its prefix already reaches the trace's end or max_tokens.</summary>
        public SequenceFinish FinishBeforeStart =>
            Sequence.RemainingInTrace == 0 ? SequenceFinish.Stop
            : Sequence.Generated.Count >= MaxTokens ? SequenceFinish.Length
            : SequenceFinish.None;

        public bool AlreadyDone => FinishBeforeStart != SequenceFinish.None;

        public long Growth(int steps, int k)
            => AlreadyDone ? 0 : Math.Min((long)steps * (k + 1), Math.Min(Sequence.RemainingInTrace, MaxTokens - Sequence.Generated.Count));
    }

    private sealed class Tally
    {
        public List<int> Tokens { get; } = [];

        public int Steps { get; set; }

        public int Drafted { get; set; }

        public int Accepted { get; set; }

        public SequenceFinish Finish { get; set; }
    }
}
