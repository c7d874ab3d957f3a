using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Laps.Worker.Identity;
using Laps.Worker.Sampling;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Worker.Engines;

/// <summary>
/// The protocol over an engine that runs continuously: a held sequence in the batch has an open streaming request on
/// the engine; a Step returns what each batch sequence produced since the last Step once each has run the asked
/// number of engine steps (or has finished, failed, or the step deadline passed). A held sequence left out of a Step's
/// batch is preempted: its engine request is aborted and, when it is stepped again, resubmitted as prompt + generated
/// ids with the remaining max_tokens (reported <c>prefilled</c>, with the prompt tokens the engine's prefix cache
/// served). A sequence with a fixed seed and sampling is pinned instead: it keeps running on the engine while out of
/// the batch, since a resume could not reproduce it (docs/engines.md).
/// </summary>
/// <remarks>
/// Faults: an engine that dies (connection refused or dropped, a stream that ends unfinished) fails the Step with
/// UNAVAILABLE after a probe confirms it, and every held sequence is dropped, so the scheduler resumes them elsewhere
/// from what it knows; a stream that drops while the engine still answers its health check, an error event, a
/// malformed event or a 4xx/5xx fail only that sequence (<c>SequenceOutput.error</c>), and the worker keeps serving.
/// Identity: as the sim engine (<see cref="SimEngine.CheckHeld"/>, <see cref="IncarnationFence"/>), a sequence belongs to
/// the incarnation that created it and keeps its prompt; a newer incarnation of a scheduler drops the older one's.
/// Thread-safe: Steps are serialized; Release, Describe and the stream readers run beside them under one lock.
/// </remarks>
public sealed partial class EngineWorker : IDisposable
{
    /// <summary>The meter of <see cref="StepOverheadName"/>.</summary>
    public const string MeterName = "Laps.Worker.Engines";

    /// <summary>
    /// The adapter's own time in a Step, in seconds: from the Step's start (after any earlier Step) to its engine
    /// requests being submitted, plus from the engine chunk that completed the Step (parsed) to the response being
    /// built. What it leaves out is the wait for the engine itself.
    /// </summary>
    public const string StepOverheadName = "laps.adapter.step_overhead";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Histogram<double> StepOverhead = Meter.CreateHistogram<double>(StepOverheadName, "s",
        "The adapter's own time in a Step, without the wait for the engine");

    private readonly EngineClient _client;
    private readonly EngineWorkerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<EngineWorker> _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Seq> _held = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gpu = new(1, 1);
    private readonly string _instance = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
    private readonly CancellationTokenSource _disposed = new();
    private readonly IncarnationFence _fence;
    private long _nextRequest;
    private TaskCompletionSource _changed = NewSignal();
    private EngineStatus _status = EngineStatus.NotProbed;

    public EngineWorker(EngineClient client, EngineWorkerOptions options, TimeProvider time, ILogger<EngineWorker> logger)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _client = client;
        _options = options;
        _time = time;
        _logger = logger;
        _fence = new IncarnationFence(time);
    }

    public EngineWorkerOptions Options => _options;

    /// <summary>The last probe's result.</summary>
    public EngineStatus Status => Volatile.Read(ref _status);

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

    /// <summary>The engine request ids of open streams (for tests and logs).</summary>
    public IReadOnlyList<string> OpenRequests
    {
        get
        {
            lock (_lock)
            {
                return [.. _held.Values.Where(s => s.Current is not null).Select(s => s.Current!.RequestId)];
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

    /// <summary>Probes the engine (health, model) and remembers the result.</summary>
    public async Task<EngineStatus> ProbeAsync(CancellationToken cancellationToken)
    {
        EngineStatus status;
        try
        {
            status = await _client.ProbeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            status = new EngineStatus(false, null, 0, e.Message);
        }

        var was = Interlocked.Exchange(ref _status, status);
        if (was.Ready != status.Ready)
        {
            LogReadiness(_options.EngineName, _client.BaseUrl, status.Ready, status.Detail);
        }

        return status;
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

        Pulse();
    }

    /// <summary>The description of this worker with a ready engine.</summary>
    public WorkerDescription Describe(EngineStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var profile = _options.StepTime ?? new StepTimeProfile();
        var description = new WorkerDescription
        {
            ProtocolVersion = SimWorkerOptions.ProtocolVersion,
            WorkerId = _options.WorkerId,
            Engine = _options.EngineName,
            LlmModel = status.Model ?? string.Empty,
            DraftModel = _options.EffectiveDraftModel,
            Proposer = SimWorkerOptions.ProposerNameOf(_options.Proposer),
            SpeculationLength = _options.K,
            MaxBatch = _options.MaxBatch,
            MaxStepsPerCall = _options.MaxStepsPerCall,
            KvCapacityTokens = _options.KvCapacityTokens,
            StepTime = profile,
            ResumeRecomputesPrefix = true,
            ResumePrefillPerTokenS = _options.ResumePrefillPerTokenSeconds ?? profile.VerifyPerTokenS,
            Tokenizer = status.Model ?? string.Empty,
            EngineReady = status.Ready,
        };
        description.SamplingParameters.AddRange(_client.SamplingParameters);
        return description;
    }

    /// <summary>
    /// Runs a Step. Throws <see cref="WorkerException"/> for a request the protocol refuses, <see cref="EngineException"/>
    /// (Unavailable) when the engine is not ready or died, and <see cref="OperationCanceledException"/> when cancelled
    /// (the batch's sequences are dropped, as the protocol requires).
    /// </summary>
    public async Task<StepResponse> StepAsync(StepRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var inputs = request.Batch;
        var caller = Incarnation.From(request.Scheduler);
        var shapes = inputs
            .Select(s => new SequenceRequest(s.SequenceId, [.. s.PromptTokenIds], [.. s.GeneratedTokenIds], s.MaxTokens, PromptHash: s.HasPromptHash ? s.PromptHash : null))
            .ToArray();
        SimEngine.ValidateShape(shapes, request.Steps, _options.MaxStepsPerCall, _options.MaxBatch);
        foreach (var input in inputs)
        {
            SamplingSupport.Validate(input.SequenceId, input.Sampling, _client.SamplingParameters, _options.EngineName);
        }

        await _gpu.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var status = Status;
            if (!status.Ready)
            {
                status = await ProbeAsync(cancellationToken).ConfigureAwait(false);
                if (!status.Ready)
                {
                    throw new EngineException(EngineFailureKind.Unavailable, $"the {_options.EngineName} engine is not ready: {status.Detail}");
                }
            }

            var started = _time.GetTimestamp();
            var members = Admit(inputs, shapes, caller, status.Model ?? string.Empty);
            var waiting = _time.GetTimestamp();
            try
            {
                await WaitForStepsAsync(members, request.Steps, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Drop(members.Select(m => m.Id));
                throw;
            }

            if (FailureOf(members) is { } failure)
            {
                var now = await ProbeAsync(CancellationToken.None).ConfigureAwait(false);
                if (!now.Ready)
                {
                    List<string> dropped;
                    lock (_lock)
                    {
                        dropped = [.. _held.Keys];
                    }

                    Drop(dropped);
                    LogEngineDied(_options.EngineName, dropped.Count, failure);
                    throw new EngineException(EngineFailureKind.Unavailable,
                        $"the {_options.EngineName} engine failed during the step ({failure}) and does not answer its health check; the worker dropped its {dropped.Count} sequences: resend them with prompt_token_ids and generated_token_ids");
                }

                lock (_lock)
                {
                    foreach (var m in members.Where(m => m.Failure is not null))
                    {
                        m.Error ??= m.Failure + " (the engine still answers its health check: only this sequence failed)";
                        m.Failure = null;
                    }
                }
            }

            long lastChunk;
            lock (_lock)
            {
                lastChunk = Math.Max(waiting, members.Max(m => m.LastChunkAt));
            }

            var response = Take(members, _time.GetElapsedTime(started));
            StepOverhead.Record((_time.GetElapsedTime(started, waiting) + _time.GetElapsedTime(lastChunk)).TotalSeconds,
                new KeyValuePair<string, object?>("worker", _options.WorkerId));
            return response;
        }
        finally
        {
            _gpu.Release();
        }
    }

    /// <summary>
    /// Drops sequences of <paramref name="caller"/> (aborting their engine requests); returns how many were held. Throws
    /// <see cref="WorkerException"/> (FAILED_PRECONDITION, before any sequence changes) when one is held for another
    /// caller, or the caller is superseded.
    /// </summary>
    public int Release(IEnumerable<string> sequenceIds, Incarnation caller)
    {
        ArgumentNullException.ThrowIfNull(sequenceIds);
        ArgumentNullException.ThrowIfNull(caller);
        var ids = sequenceIds.ToList();
        lock (_lock)
        {
            Fence(caller);
            foreach (var id in ids)
            {
                if (_held.TryGetValue(id, out var sequence) && !sequence.Owner.IsSameAs(caller))
                {
                    throw new WorkerException(WorkerErrorKind.FailedPrecondition, SimEngine.NotYours(id, caller));
                }
            }
        }

        return Drop(ids);
    }

    public async Task<TokenizeResponse> TokenizeAsync(TokenizeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var status = await ReadyStatusAsync(cancellationToken).ConfigureAwait(false);
        return await _client.TokenizeAsync(request, status.Model ?? string.Empty, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> DetokenizeAsync(IReadOnlyList<int> tokenIds, CancellationToken cancellationToken)
    {
        var status = await ReadyStatusAsync(cancellationToken).ConfigureAwait(false);
        return await _client.DetokenizeAsync(tokenIds, status.Model ?? string.Empty, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        List<string> all;
        lock (_lock)
        {
            all = [.. _held.Keys];
        }

        Drop(all);
        _disposed.Cancel();
        _disposed.Dispose();
        _gpu.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task<EngineStatus> ReadyStatusAsync(CancellationToken cancellationToken)
    {
        var status = Status.Ready ? Status : await ProbeAsync(cancellationToken).ConfigureAwait(false);
        return status.Ready ? status : throw new EngineException(EngineFailureKind.Unavailable, $"the {_options.EngineName} engine is not ready: {status.Detail}");
    }

    private Seq[] Admit(Google.Protobuf.Collections.RepeatedField<SequenceInput> inputs, SequenceRequest[] shapes, Incarnation caller, string model)
    {
        lock (_lock)
        {
            Fence(caller);

            // 1. Resolve (nothing changes until every sequence is known).
            var members = new Seq[inputs.Count];
            for (var i = 0; i < inputs.Count; i++)
            {
                var input = inputs[i];
                var maxTokens = input.MaxTokens == 0 ? _options.DefaultMaxTokens : input.MaxTokens;
                if (_held.TryGetValue(input.SequenceId, out var held))
                {
                    SimEngine.CheckHeld(shapes[i], held.Owner, held.PromptHash, caller);
                    held.MaxTokens = maxTokens;
                    members[i] = held;
                }
                else if (input.PromptTokenIds.Count == 0)
                {
                    throw new WorkerException(WorkerErrorKind.InvalidArgument,
                        $"sequence '{input.SequenceId}' is not held by this worker (new, released or evicted) and carries no prompt_token_ids: send its prompt and generated_token_ids to recompute it");
                }
                else
                {
                    members[i] = new Seq(input.SequenceId, caller, [.. input.PromptTokenIds], [.. input.GeneratedTokenIds], maxTokens, input.Sampling);
                }
            }

            // 2. Preempt held sequences left out of the batch (pinned ones keep running).
            var inBatch = members.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var sequence in _held.Values)
            {
                if (!inBatch.Contains(sequence.Id) && sequence.Current is not null && !sequence.Pinned)
                {
                    AbortAttempt(sequence, "preempted");
                }
            }

            // 3. Admit newcomers and (re)submit every member without an open engine request.
            foreach (var member in members)
            {
                _held.TryAdd(member.Id, member);
                if (member.Current is null && member.Finish == EngineFinish.None && member.Error is null && member.Failure is null)
                {
                    Submit(member, model);
                }
            }

            return members;
        }
    }

    // Under the lock.
    private void Submit(Seq sequence, string model)
    {
        var done = sequence.Generated.Count + sequence.Tokens.Count;
        var remaining = sequence.MaxTokens - done;
        if (remaining <= 0)
        {
            sequence.Finish = EngineFinish.Length;
            return;
        }

        var requestId = string.Create(CultureInfo.InvariantCulture, $"laps-{_instance}-{Interlocked.Increment(ref _nextRequest):D12}");
        var attempt = new Attempt(requestId, new StepCounter(_options.K), CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token));
        sequence.Current = attempt;
        sequence.Prefilled = true;
        sequence.AwaitingFirstToken = true;
        int[] prompt = [.. sequence.Prompt, .. sequence.Generated, .. sequence.Tokens];
        var minTokens = Math.Max(0, (sequence.Sampling?.MinTokens ?? 0) - done);
        var generation = new EngineGeneration(requestId, prompt, remaining, sequence.Sampling, minTokens);
        _ = Task.Run(() => ReadAsync(sequence, attempt, generation, model));
    }

    private async Task ReadAsync(Seq sequence, Attempt attempt, EngineGeneration generation, string model)
    {
        try
        {
            await foreach (var chunk in _client.GenerateAsync(generation, model, attempt.Cancellation.Token).ConfigureAwait(false))
            {
                lock (_lock)
                {
                    if (sequence.Current != attempt)
                    {
                        return; // aborted: what the engine still sends is not this sequence's any more
                    }

                    Apply(sequence, attempt, chunk);
                    sequence.LastChunkAt = _time.GetTimestamp();
                }

                Pulse();
            }

            lock (_lock)
            {
                if (sequence.Current == attempt)
                {
                    sequence.Current = null;
                    sequence.LastChunkAt = _time.GetTimestamp();
                    if (sequence.Finish == EngineFinish.None && sequence.Error is null)
                    {
                        sequence.Failure = $"the {_client.EngineName} stream of request {attempt.RequestId} ended before the sequence finished";
                    }
                }
            }
        }
        catch (OperationCanceledException) when (attempt.Cancellation.IsCancellationRequested)
        {
        }
        catch (EngineException e)
        {
            lock (_lock)
            {
                if (sequence.Current == attempt)
                {
                    sequence.Current = null;
                    if (e.Kind == EngineFailureKind.Unavailable)
                    {
                        sequence.Failure = e.Message;
                    }
                    else
                    {
                        sequence.Error = e.Message;
                    }
                }
            }

            LogSequenceFailed(sequence.Id, attempt.RequestId, e.Kind, e.Message);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            lock (_lock)
            {
                if (sequence.Current == attempt)
                {
                    sequence.Current = null;
                    sequence.Failure = $"the {_client.EngineName} stream of request {attempt.RequestId} failed: {e.Message}";
                }
            }
        }
        finally
        {
            attempt.Cancellation.Dispose();
            Pulse();
        }
    }

    // Under the lock.
    private void Apply(Seq sequence, Attempt attempt, EngineChunk chunk)
    {
        if (chunk.Done)
        {
            return;
        }

        if (chunk.Error is { } error)
        {
            sequence.Error = $"the {_client.EngineName} engine reported an error for request {attempt.RequestId}: {error}";
            AbortAttempt(sequence, "error event");
            return;
        }

        if (sequence.Finish != EngineFinish.None)
        {
            // Finished (e.g. by a stop string across a resume): later events only carry totals.
            return;
        }

        sequence.Tokens.AddRange(chunk.TokenIds);
        var delta = attempt.Counter.Observe(chunk);
        sequence.Steps += delta.Steps;
        sequence.Drafted += delta.Drafted;
        sequence.Accepted += delta.Accepted;
        if (chunk.CachedTokens is { } cached && !attempt.CachedSeen)
        {
            // Reported once per engine request, in the output of the Step that learns it (vLLM: at its end).
            attempt.CachedSeen = true;
            sequence.CachedTokens = cached;
        }

        if (chunk.TokenIds.Count > 0)
        {
            sequence.AwaitingFirstToken = false;
        }

        sequence.Text.Append(sequence.Stop.Append(chunk.Text));
        if (sequence.Stop.Stopped)
        {
            sequence.Finish = EngineFinish.Stop;
            AbortAttempt(sequence, "stop string");
            return;
        }

        switch (chunk.Finish)
        {
            case EngineFinish.Stop:
            case EngineFinish.Length:
                sequence.Finish = chunk.Finish;
                sequence.Text.Append(sequence.Stop.Flush());
                break;
            case EngineFinish.Abort:
                sequence.Error = $"the {_client.EngineName} engine aborted request {attempt.RequestId}: {chunk.FinishDetail}";
                AbortAttempt(sequence, "aborted by the engine");
                break;
        }
    }

    // Under the lock. Closing the stream aborts a vLLM request; SGLang needs /abort_request (a closed stream alone
    // aborts only seconds later). The call is not awaited: an engine that answers it late delays nobody, and late
    // events of the aborted request are ignored (the sequence's current request is no longer it).
    private void AbortAttempt(Seq sequence, string why)
    {
        if (sequence.Current is not { } attempt)
        {
            return;
        }

        sequence.Current = null;
        attempt.Cancellation.Cancel();
        LogAborted(sequence.Id, attempt.RequestId, why);
        _ = AbortOnEngineAsync(attempt.RequestId);
    }

    private async Task AbortOnEngineAsync(string requestId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.AbortTimeout, _time);
            await _client.AbortAsync(requestId, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EngineException or OperationCanceledException or HttpRequestException)
        {
            LogAbortFailed(requestId, e.Message);
        }
    }

    private async Task WaitForStepsAsync(Seq[] members, int steps, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_options.StepDeadline, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (members.Any(m => m.Failure is not null) || members.All(m => Satisfied(m, steps)))
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                LogDeadline(members.Count(m => !Satisfied(m, steps)), _options.StepDeadline.TotalSeconds);
                return;
            }
        }
    }

    private static bool Satisfied(Seq sequence, int steps)
        => sequence.Dropped || sequence.Error is not null || sequence.Failure is not null
            || (sequence.Finish != EngineFinish.None ? sequence.Current is null : sequence.Steps >= steps && !sequence.AwaitingFirstToken);

    private string? FailureOf(Seq[] members)
    {
        lock (_lock)
        {
            return members.FirstOrDefault(m => m.Failure is not null)?.Failure;
        }
    }

    private StepResponse Take(Seq[] members, TimeSpan elapsed)
    {
        lock (_lock)
        {
            var response = new StepResponse { ElapsedS = elapsed.TotalSeconds };
            foreach (var sequence in members)
            {
                var output = new SequenceOutput
                {
                    SequenceId = sequence.Id,
                    Text = sequence.Text.ToString(),
                    Steps = sequence.Steps,
                    Drafted = sequence.Drafted,
                    Accepted = Math.Max(0, sequence.Accepted),
                    Prefilled = sequence.Prefilled,
                    CachedTokens = sequence.CachedTokens,
                };
                output.TokenIds.AddRange(sequence.Tokens);
                sequence.Generated.AddRange(sequence.Tokens);
                sequence.ResetPending();
                if (sequence.Dropped)
                {
                    // Released while the step ran: what it produced is reported, its state is gone.
                }
                else if (sequence.Error is { } error)
                {
                    output.Error = error;
                    Forget(sequence);
                }
                else if (sequence.Finish != EngineFinish.None)
                {
                    output.Finished = true;
                    output.FinishReason = sequence.Finish == EngineFinish.Length ? FinishReason.Length : FinishReason.Stop;
                    Forget(sequence);
                }

                response.Outputs.Add(output);
            }

            response.KvTokensInUse = _held.Values.Where(s => s.Current is not null).Sum(s => (long)s.Context);
            return response;
        }
    }

    // Under the lock.
    private void Fence(Incarnation caller)
    {
        if (_fence.Admit(caller) is not { } superseded)
        {
            return;
        }

        var dropped = _held.Values.Where(s => s.Owner.IsSameAs(superseded)).ToList();
        foreach (var sequence in dropped)
        {
            Forget(sequence);
        }

        LogFenced(caller.ToString(), superseded.ToString(), dropped.Count);
    }

    // Under the lock.
    private void Forget(Seq sequence)
    {
        sequence.Dropped = true;
        AbortAttempt(sequence, "dropped");
        _held.Remove(sequence.Id);
    }

    private int Drop(IEnumerable<string> sequenceIds)
    {
        var dropped = 0;
        lock (_lock)
        {
            foreach (var id in sequenceIds)
            {
                if (_held.TryGetValue(id, out var sequence))
                {
                    Forget(sequence);
                    dropped++;
                }
            }
        }

        Pulse();
        return dropped;
    }

    private void Pulse() => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{By} superseded {Superseded}: dropped its {Count} sequences")]
    private partial void LogFenced(string by, string superseded, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "engine {Engine} at {Url}: ready = {Ready} ({Detail})")]
    private partial void LogReadiness(string engine, Uri url, bool ready, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "engine {Engine} died during a step; dropped {Count} sequences: {Failure}")]
    private partial void LogEngineDied(string engine, int count, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "sequence {Sequence} (engine request {Request}) failed ({Kind}): {Message}")]
    private partial void LogSequenceFailed(string sequence, string request, EngineFailureKind kind, string message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "sequence {Sequence}: engine request {Request} aborted ({Why})")]
    private partial void LogAborted(string sequence, string request, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "abort of engine request {Request} failed: {Message}")]
    private partial void LogAbortFailed(string request, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "step deadline ({Seconds} s) passed with {Count} sequences short of their steps")]
    private partial void LogDeadline(int count, double seconds);

    private sealed class Attempt(string requestId, StepCounter counter, CancellationTokenSource cancellation)
    {
        public string RequestId { get; } = requestId;

        public StepCounter Counter { get; } = counter;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public bool CachedSeen { get; set; }
    }

    /// <summary>A held sequence: what the scheduler knows (prompt, reported tokens) and what is pending since the last Step.</summary>
    private sealed class Seq(string id, Incarnation owner, int[] prompt, List<int> generated, int maxTokens, SamplingParams? sampling)
    {
        public string Id { get; } = id;

        /// <summary>The scheduler incarnation that created it: the only caller that may step or release it.</summary>
        public Incarnation Owner { get; } = owner;

        public int[] Prompt { get; } = prompt;

        public ulong PromptHash { get; } = V1.PromptHash.Of(prompt);

        public List<int> Generated { get; } = generated;

        public int MaxTokens { get; set; } = maxTokens;

        public SamplingParams? Sampling { get; } = sampling;

        /// <summary>Runs without preemption: a resume could not reproduce a seeded sampled sequence.</summary>
        public bool Pinned { get; } = SamplingSupport.WantsReproducibility(sampling);

        public StopMatcher Stop { get; } = new(sampling?.Stop ?? (IEnumerable<string>)[]);

        public Attempt? Current { get; set; }

        public List<int> Tokens { get; } = [];

        public StringBuilder Text { get; } = new();

        public int Steps { get; set; }

        public int Drafted { get; set; }

        public int Accepted { get; set; }

        public bool Prefilled { get; set; }

        /// <summary>Resubmitted in this Step and no token back yet: the Step waits for the (re)prefill.</summary>
        public bool AwaitingFirstToken { get; set; }

        public int CachedTokens { get; set; }

        /// <summary>When the engine's last chunk (or the end of its stream) was applied (a <see cref="TimeProvider"/> timestamp).</summary>
        public long LastChunkAt { get; set; }

        public EngineFinish Finish { get; set; }

        /// <summary>The engine failed this sequence (it is dropped at the next take).</summary>
        public string? Error { get; set; }

        /// <summary>Released or dropped: no longer held.</summary>
        public bool Dropped { get; set; }

        /// <summary>The connection to the engine failed: the engine may be dead.</summary>
        public string? Failure { get; set; }

        public int Context => Prompt.Length + Generated.Count + Tokens.Count;

        public void ResetPending()
        {
            Tokens.Clear();
            Text.Clear();
            Steps = 0;
            Drafted = 0;
            Accepted = 0;
            Prefilled = false;
            CachedTokens = 0;
        }
    }
}
