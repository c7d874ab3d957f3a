using System.Collections.Concurrent;
using Grpc.Core;
using Laps.Worker.Engines;
using Laps.Worker.Identity;
using Laps.Worker.Sampling;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Worker;

/// <summary>
/// The gRPC face of the sim engine: maps messages to <see cref="SimEngine"/> calls and engine refusals to status codes,
/// serializes Steps (one GPU), and waits out each Step's modelled time divided by the time scale.
/// </summary>
/// <remarks>
/// A Step cancelled while it waits (deadline, client gone) has already advanced its sequences, but its reply is lost:
/// the service drops the batch's sequences, so the scheduler resends them with prompt and generated ids and they are
/// recomputed from what it knows, rather than silently diverging.
/// </remarks>
public sealed partial class SpeculativeWorkerService : SpeculativeWorker.SpeculativeWorkerBase, IDisposable
{
    private readonly SimEngine _engine;
    private readonly TimeProvider _time;
    private readonly ILogger<SpeculativeWorkerService> _logger;
    private readonly SemaphoreSlim _gpu = new(1, 1);

    // Guarded by _gpu. A busy machine's timer fires milliseconds late: without pacing, a sim worker at time scale 1
    // ran 30% slower than its model on a loaded 2-core VM, and live runs could not be compared with the simulator.
    private readonly StepPacer _pacer = new(TimeSpan.FromMilliseconds(50));

    // Stop strings of the sequences that have them: matched on the sim's text across Steps (and recomputes).
    private readonly ConcurrentDictionary<string, StopMatcher> _stops = new(StringComparer.Ordinal);

    public SpeculativeWorkerService(SimEngine engine, TimeProvider time, ILogger<SpeculativeWorkerService> logger)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _engine = engine;
        _time = time;
        _logger = logger;
        _engine.SequencesFenced += OnFenced;
    }

    public override Task<WorkerDescription> Describe(DescribeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            _engine.Admit(Incarnation.From(request.Scheduler));
        }
        catch (WorkerException e)
        {
            throw Refused(e);
        }

        return Task.FromResult(Description(_engine.Options));
    }

    /// <summary>The description of a worker with these options; step times are wall-clock seconds (divided by the time scale).</summary>
    public static WorkerDescription Description(SimWorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new WorkerDescription
        {
            ProtocolVersion = SimWorkerOptions.ProtocolVersion,
            WorkerId = options.WorkerId,
            Engine = SimWorkerOptions.EngineName,
            LlmModel = options.LlmModel,
            DraftModel = options.EffectiveDraftModel,
            Proposer = options.ProposerName,
            SpeculationLength = options.K,
            MaxBatch = options.MaxBatch,
            MaxStepsPerCall = options.MaxStepsPerCall,
            KvCapacityTokens = options.KvCapacityTokens,
            StepTime = StepTimeProfiles.Describe(options.StepTime, options.Proposer, options.K, options.TimeScale),
            ResumeRecomputesPrefix = false,
            Tokenizer = StandInTokenizer.Name,
            EngineReady = true,
            SamplingParameters = { SamplingSupport.Sim },
        };
    }

    public override Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context)
    {
        TokenizeChecks.Validate(request);
        return Task.FromResult(TokenizeChecks.StandIn(request));
    }

    public override Task<DetokenizeResponse> Detokenize(DetokenizeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(new DetokenizeResponse { Text = SimVocabulary.Text(request.TokenIds) });
    }

    public override async Task<StepResponse> Step(StepRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        Incarnation caller;
        try
        {
            caller = Incarnation.From(request.Scheduler);
            foreach (var input in request.Batch)
            {
                SamplingSupport.Validate(input.SequenceId, input.Sampling, SamplingSupport.Sim, SimWorkerOptions.EngineName);
            }
        }
        catch (WorkerException e)
        {
            throw Refused(e);
        }

        var batch = request.Batch
            .Select(s => new SequenceRequest(
                s.SequenceId, [.. s.PromptTokenIds], [.. s.GeneratedTokenIds], s.MaxTokens, SeedOf(s), PromptHash: s.HasPromptHash ? s.PromptHash : null))
            .ToArray();
        var cancellationToken = context.CancellationToken;

        await _gpu.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            StepOutcome outcome;
            try
            {
                outcome = _engine.Step(batch, request.Steps, caller);
            }
            catch (WorkerException e)
            {
                throw Refused(e);
            }

            var modelled = TimeSpan.FromSeconds(outcome.ModelSeconds / _engine.Options.TimeScale);
            try
            {
                var sleep = _pacer.SleepFor(modelled);
                if (sleep > TimeSpan.Zero)
                {
                    var slept = _time.GetTimestamp();
                    await Task.Delay(sleep, _time, cancellationToken).ConfigureAwait(false);
                    _pacer.Slept(sleep, _time.GetElapsedTime(slept));
                }
            }
            catch (OperationCanceledException)
            {
                _engine.Drop(batch.Select(s => s.SequenceId), caller);

                // gRPC's deadline runs on the wall clock, so it is compared with the wall clock.
                var code = context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
                throw new RpcException(new Status(code,
                    "the step was cancelled before it completed; its sequences were dropped: resend them with prompt_token_ids and generated_token_ids"));
            }

            // The GPU time emulated, as a real engine reports its own step: the timer's lateness is the pacer's business.
            var response = new StepResponse
            {
                ElapsedS = modelled.TotalSeconds,
                KvTokensInUse = outcome.KvTokensInUse,
            };
            response.EvictedSequenceIds.AddRange(outcome.EvictedSequenceIds);
            foreach (var id in outcome.EvictedSequenceIds)
            {
                _stops.TryRemove(id, out _);
            }

            for (var i = 0; i < outcome.Outputs.Count; i++)
            {
                var result = ApplyStops(request.Batch[i], outcome.Outputs[i], caller);
                var output = new SequenceOutput
                {
                    SequenceId = result.SequenceId,
                    Text = result.Text,
                    Steps = result.Steps,
                    Drafted = result.Drafted,
                    Accepted = result.Accepted,
                    Finished = result.Finished,
                    FinishReason = result.Finish switch
                    {
                        SequenceFinish.Stop => FinishReason.Stop,
                        SequenceFinish.Length => FinishReason.Length,
                        _ => FinishReason.Unspecified,
                    },
                    Prefilled = result.Prefilled,
                };
                output.TokenIds.AddRange(result.TokenIds);
                response.Outputs.Add(output);
            }

            return response;
        }
        finally
        {
            _gpu.Release();
        }
    }

    public override Task<ReleaseResponse> Release(ReleaseRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        int released;
        try
        {
            released = _engine.Release(request.SequenceIds, Incarnation.From(request.Scheduler));
        }
        catch (WorkerException e)
        {
            throw Refused(e);
        }

        foreach (var id in request.SequenceIds)
        {
            _stops.TryRemove(id, out _);
        }

        return Task.FromResult(new ReleaseResponse { Released = released });
    }

    // A fixed sampling seed selects the sim's synthetic output, as a seed selects a sampled one.
    private static ulong SeedOf(SequenceInput input)
        => input.Sampling is { HasSeed: true } sampling ? input.Seed ^ (ulong)sampling.Seed * 0x9E3779B97F4A7C15UL : input.Seed;

    /// <summary>
    /// Stop strings and stop token ids on the sim's output: the output is cut after the token that completes a stop
    /// string (its text before the stop string) or at a stop token (excluded from the text, as engines do), the
    /// sequence finishes with STOP and its state is freed. Text that may begin a stop string is held back until decided.
    /// </summary>
    private SequenceResult ApplyStops(SequenceInput input, SequenceResult result, Incarnation caller)
    {
        var sampling = input.Sampling;
        if (sampling is null || (sampling.Stop.Count == 0 && sampling.StopTokenIds.Count == 0))
        {
            return result;
        }

        if (result.Prefilled || !_stops.TryGetValue(input.SequenceId, out var matcher))
        {
            matcher = _stops[input.SequenceId] = new StopMatcher(sampling.Stop);
        }

        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        var stopped = false;
        foreach (var token in result.TokenIds)
        {
            tokens.Add(token);
            if (sampling.StopTokenIds.Contains(token))
            {
                stopped = true;
                break;
            }

            text.Append(matcher.Append(SimVocabulary.Text(token)));
            if (matcher.Stopped)
            {
                stopped = true;
                break;
            }
        }

        if (stopped || result.Finished)
        {
            if (!matcher.Stopped)
            {
                text.Append(matcher.Flush());
            }

            _stops.TryRemove(input.SequenceId, out _);
            if (stopped && !result.Finished)
            {
                _engine.Drop([input.SequenceId], caller);
            }
        }

        return result with
        {
            TokenIds = tokens,
            Text = text.ToString(),
            Finish = stopped ? SequenceFinish.Stop : result.Finish,
        };
    }

    public void Dispose()
    {
        _engine.SequencesFenced -= OnFenced;
        _gpu.Dispose();
    }

    private RpcException Refused(WorkerException e)
    {
        LogRefused(e.Kind, e.Message);
        return e.ToRpcException();
    }

    private void OnFenced(Fenced fenced)
    {
        foreach (var id in fenced.SequenceIds)
        {
            _stops.TryRemove(id, out _);
        }

        LogFenced(fenced.By.ToString(), fenced.Superseded.ToString(), fenced.SequenceIds.Count);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "call refused ({Kind}): {Reason}")]
    private partial void LogRefused(WorkerErrorKind kind, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{By} superseded {Superseded}: dropped its {Count} sequences")]
    private partial void LogFenced(string by, string superseded, int count);
}
