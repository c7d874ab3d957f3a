using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Laps.Scheduler.Serving.Sessions;
using Laps.Worker.V1;

namespace Laps.Scheduler.Tests;

/// <summary>
/// A deterministic in-memory worker, reached either directly as an <see cref="IWorkerSession"/> (the sidecar's
/// policy tests, no gRPC) or through <see cref="FakeWorkerService"/> over gRPC. Every step drafts 3 tokens and emits
/// up to 3 (accepting all but the bonus one), token ids count up from 1000, text " w{id}". A sequence finishes with
/// LENGTH at its max_tokens, or with STOP at <see cref="NaturalLength"/>. In <see cref="Manual"/> mode each Step waits
/// for a permit from <see cref="Allow"/> (up to the call's deadline).
/// </summary>
public sealed class FakeWorker(string name) : IWorkerSession, IDisposable
{
    public const int Drafts = 3;
    private readonly ConcurrentDictionary<string, int> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _promptLengths = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _permits = new(0);
    private int _refused;

    public string Name { get; } = name;
    public int NaturalLength { get; set; } = int.MaxValue;
    public bool Manual { get; set; }

    /// <summary>Step calls still to fail with UNAVAILABLE (as a worker that restarted and lost every sequence).</summary>
    public int FailSteps { get; set; }

    /// <summary>Over gRPC: Step calls still to refuse with FAILED_PRECONDITION (as a worker's identity check), keeping what it holds.</summary>
    public int RefuseSteps { get; set; }

    /// <summary>The first call (counting from 0) that <see cref="FailSteps"/> applies to.</summary>
    public int FailFromCall { get; set; }

    /// <summary>The next Step evicts the sequences it ran, after running them.</summary>
    public bool EvictOnNextStep { get; set; }

    /// <summary>Every Step, as the worker protocol carries it, logged as it arrives (before any permit).</summary>
    public EventLog<StepRequest> Steps { get; } = new();

    public EventLog<string> Released { get; } = new();

    /// <summary>Over gRPC: every call as it arrived (before any token check), with its <c>authorization</c> metadata.</summary>
    public EventLog<(IMessage Request, string? Authorization)> Calls { get; } = new();

    /// <summary>Over gRPC: the <c>authorization</c> values a call must carry one of (UNAUTHENTICATED otherwise); null: none.</summary>
    public IReadOnlyCollection<string>? AcceptedAuthorizations { get; set; }

    /// <summary>The deadline the scheduler gave each Step call.</summary>
    public EventLog<TimeSpan> StepTimeouts { get; } = new();

    /// <summary>KV tokens a step's batch may hold (prompt, generated and the step's Drafts + 1 per sequence).</summary>
    public long KvCapacity { get; set; } = 1_000_000;

    /// <summary>Steps refused with RESOURCE_EXHAUSTED because the batch did not fit <see cref="KvCapacity"/>.</summary>
    public int Refused => Volatile.Read(ref _refused);

    public bool Holds(string sequenceId) => _held.ContainsKey(sequenceId);

    public void Allow(int steps = 1) => _permits.Release(steps);

    public void Dispose() => _permits.Dispose();

    /// <summary>The sampling parameters it honours (it applies none: its output is scripted).</summary>
    public IReadOnlyList<string> SamplingParameters { get; set; } = ["temperature", "top_p", "stop", "seed"];

    /// <summary>Describe does not answer (a stopped process): only Steps already let through by <see cref="Allow"/> do.</summary>
    public bool Hung { get; set; }

    public async Task<WorkerInfo> DescribeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Hung)
        {
            await Task.Delay(timeout, cancellationToken);
            throw new WorkerCallException(WorkerFault.DeadlineExceeded, "no answer within the deadline");
        }

        return Info();
    }

    private WorkerInfo Info()
        => new(
            Name, "fake", Drafts, MaxBatch, KvCapacity, Tokenizer: "stand-in", SamplingParameters: SamplingParameters,
            ResumePrefillSecondsPerToken: ResumeSecondsPerToken);

    /// <summary>The most sequences one Step may carry, as Describe reports it (an engine adapter: the engine's batch cap).</summary>
    public int MaxBatch { get; set; } = 64;

    /// <summary>As an engine adapter says it: a preempted sequence recomputes its prefix at this cost per token (0: it keeps its state).</summary>
    public double ResumeSecondsPerToken { get; set; }

    /// <summary>The prompts it tokenized, as it got them.</summary>
    public EventLog<PromptInput> Tokenized { get; } = new();

    /// <summary>The sampling options each sequence was last stepped with.</summary>
    public ConcurrentDictionary<string, SamplingOptions?> SamplingOf { get; } = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<int>> TokenizeAsync(PromptInput prompt, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Tokenized.Add(prompt);
        return Task.FromResult(new Laps.Scheduler.Api.StandInTokenizer().Encode(prompt.Text ?? Laps.Scheduler.Api.StandInChat.Render(prompt.Messages!)));
    }

    public async Task<StepResult> StepAsync(IReadOnlyList<SequenceStep> batch, TimeSpan timeout, CancellationToken cancellationToken)
    {
        StepTimeouts.Add(timeout);
        Steps.Add(Wire(batch));
        foreach (var input in batch)
        {
            SamplingOf[input.SequenceId] = input.Sampling;
        }

        var call = Steps.Count - 1;
        if (Manual)
        {
            try
            {
                if (!await _permits.WaitAsync(timeout, cancellationToken))
                {
                    throw new WorkerCallException(WorkerFault.DeadlineExceeded, "no answer within the deadline");
                }
            }
            catch (ObjectDisposedException)
            {
                throw new WorkerCallException(WorkerFault.Unavailable, "the worker is gone");
            }
        }

        if (FailSteps > 0 && call >= FailFromCall)
        {
            FailSteps--;
            _held.Clear();
            throw new WorkerCallException(WorkerFault.Unavailable, "worker restarting");
        }

        long kv = 0;
        foreach (var input in batch)
        {
            var prompt = input.PromptTokenIds?.Count ?? (_promptLengths.TryGetValue(input.SequenceId, out var known) ? known : 0);
            var generated = _held.TryGetValue(input.SequenceId, out var held) ? held : input.GeneratedTokenIds?.Count ?? 0;
            kv += prompt + generated + Drafts + 1;
        }

        if (kv > KvCapacity)
        {
            Interlocked.Increment(ref _refused);
            throw new WorkerCallException(WorkerFault.ResourceExhausted, $"the batch needs {kv} KV tokens; capacity is {KvCapacity}");
        }

        var outputs = new List<SequenceReport>();
        foreach (var input in batch)
        {
            if (!_held.TryGetValue(input.SequenceId, out var generated))
            {
                if (input.PromptTokenIds is not { Count: > 0 } prompt)
                {
                    throw new WorkerCallException(WorkerFault.InvalidArgument, $"unknown sequence {input.SequenceId} without its prompt");
                }

                generated = input.GeneratedTokenIds?.Count ?? 0;
                _promptLengths[input.SequenceId] = prompt.Count;
            }

            var maxTokens = input.MaxTokens > 0 ? input.MaxTokens : 16;
            var emitted = Math.Min(Drafts, Math.Min(maxTokens, NaturalLength) - generated);
            var tokens = new List<int>();
            var text = string.Empty;
            for (var i = 0; i < emitted; i++)
            {
                var id = 1000 + generated + i;
                tokens.Add(id);
                text += string.Create(CultureInfo.InvariantCulture, $" w{id}");
            }

            generated += emitted;
            _held[input.SequenceId] = generated;
            var finished = generated >= maxTokens || generated >= NaturalLength;
            outputs.Add(new SequenceReport(input.SequenceId, tokens, text, Drafts, Math.Max(0, emitted - 1), finished, finished && generated < maxTokens));
        }

        var evicted = new List<string>();
        if (EvictOnNextStep)
        {
            EvictOnNextStep = false;
            foreach (var output in outputs.Where(o => !o.Finished))
            {
                _held.TryRemove(output.SequenceId, out _);
                evicted.Add(output.SequenceId);
            }
        }

        return new StepResult(outputs, 0.01, evicted);
    }

    public Task ReleaseAsync(IReadOnlyList<string> sequenceIds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        foreach (var id in sequenceIds)
        {
            _held.TryRemove(id, out _);
            Released.Add(id);
        }

        return Task.CompletedTask;
    }

    private static StepRequest Wire(IReadOnlyList<SequenceStep> batch)
    {
        var request = new StepRequest { Steps = 1 };
        foreach (var s in batch)
        {
            var input = new SequenceInput { SequenceId = s.SequenceId, MaxTokens = s.MaxTokens, Seed = s.Seed };
            input.PromptTokenIds.AddRange(s.PromptTokenIds ?? []);
            input.GeneratedTokenIds.AddRange(s.GeneratedTokenIds ?? []);
            request.Batch.Add(input);
        }

        return request;
    }
}

/// <summary>A <see cref="FakeWorker"/> behind the real worker protocol, for the tests that go through gRPC.</summary>
public sealed class FakeWorkerService(FakeWorker worker) : SpeculativeWorker.SpeculativeWorkerBase
{
    public override async Task<WorkerDescription> Describe(DescribeRequest request, ServerCallContext context)
    {
        Accept(request, context);
        var info = await worker.DescribeAsync(Timeout.InfiniteTimeSpan, context.CancellationToken);
        return new WorkerDescription
        {
            ProtocolVersion = "laps.worker.v1",
            WorkerId = info.WorkerId,
            Engine = info.Engine,
            LlmModel = "fake-llm",
            SpeculationLength = info.SpeculationLength,
            MaxBatch = info.MaxBatch,
            MaxStepsPerCall = 1,
            KvCapacityTokens = info.KvCapacityTokens,
        };
    }

    public override async Task<StepResponse> Step(StepRequest request, ServerCallContext context)
    {
        Accept(request, context);
        if (worker.RefuseSteps > 0)
        {
            worker.RefuseSteps--;
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"sequence '{request.Batch[0].SequenceId}' is held for another prompt"));
        }

        var batch = request.Batch.Select(b => new SequenceStep(
            b.SequenceId,
            b.PromptTokenIds.Count > 0 ? [.. b.PromptTokenIds] : null,
            b.GeneratedTokenIds.Count > 0 ? [.. b.GeneratedTokenIds] : null,
            b.MaxTokens,
            b.Seed)).ToList();
        StepResult result;
        try
        {
            // The deadline is the client's: gRPC cancels the call when it passes.
            result = await worker.StepAsync(batch, Timeout.InfiniteTimeSpan, context.CancellationToken);
        }
        catch (WorkerCallException e)
        {
            var code = e.Fault switch
            {
                WorkerFault.ResourceExhausted => StatusCode.ResourceExhausted,
                WorkerFault.InvalidArgument => StatusCode.InvalidArgument,
                WorkerFault.DeadlineExceeded => StatusCode.DeadlineExceeded,
                _ => StatusCode.Unavailable,
            };
            throw new RpcException(new Status(code, e.Message));
        }

        var response = new StepResponse { ElapsedS = result.ElapsedSeconds };
        foreach (var o in result.Outputs)
        {
            var output = new SequenceOutput
            {
                SequenceId = o.SequenceId,
                Text = o.Text,
                Steps = 1,
                Drafted = o.Drafted,
                Accepted = o.Accepted,
                Finished = o.Finished,
                FinishReason = !o.Finished ? FinishReason.Unspecified : o.Stopped ? FinishReason.Stop : FinishReason.Length,
            };
            output.TokenIds.AddRange(o.TokenIds);
            response.Outputs.Add(output);
        }

        response.EvictedSequenceIds.AddRange(result.Evicted);
        return response;
    }

    public override async Task<ReleaseResponse> Release(ReleaseRequest request, ServerCallContext context)
    {
        Accept(request, context);
        await worker.ReleaseAsync([.. request.SequenceIds], Timeout.InfiniteTimeSpan, context.CancellationToken);
        return new ReleaseResponse { Released = request.SequenceIds.Count };
    }

    private void Accept(IMessage request, ServerCallContext context)
    {
        var authorization = context.RequestHeaders.GetValue("authorization");
        worker.Calls.Add((request, authorization));
        if (worker.AcceptedAuthorizations is { } accepted && (authorization is null || !accepted.Contains(authorization)))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the worker token is missing or wrong"));
        }
    }
}
