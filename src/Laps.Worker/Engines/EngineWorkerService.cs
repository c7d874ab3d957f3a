using Grpc.Core;
using Laps.Worker.Identity;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Worker.Engines;

/// <summary>
/// The gRPC face of an engine adapter: maps messages to <see cref="EngineWorker"/> calls and failures to status codes.
/// Describe probes the engine each time and answers UNAVAILABLE until it is ready (a scheduler retries Describe), so a
/// worker whose engine is still loading is never routed to.
/// </summary>
public sealed partial class EngineWorkerService(EngineWorker worker, ILogger<EngineWorkerService> logger) : SpeculativeWorker.SpeculativeWorkerBase
{
    public override async Task<WorkerDescription> Describe(DescribeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            worker.Admit(Incarnation.From(request.Scheduler));
        }
        catch (WorkerException e)
        {
            throw Refused(e);
        }

        var status = await worker.ProbeAsync(context.CancellationToken).ConfigureAwait(false);
        if (!status.Ready)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"the {worker.Options.EngineName} engine is not ready: {status.Detail}"));
        }

        return worker.Describe(status);
    }

    public override async Task<StepResponse> Step(StepRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return await worker.StepAsync(request, context.CancellationToken).ConfigureAwait(false);
        }
        catch (WorkerException e)
        {
            throw Refused(e);
        }
        catch (EngineException e)
        {
            throw new RpcException(new Status(StatusCodeOf(e.Kind), e.Message));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            var code = context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
            throw new RpcException(new Status(code,
                "the step was cancelled before it completed; its sequences were dropped: resend them with prompt_token_ids and generated_token_ids"));
        }
    }

    public override Task<ReleaseResponse> Release(ReleaseRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return Task.FromResult(new ReleaseResponse { Released = worker.Release(request.SequenceIds, Incarnation.From(request.Scheduler)) });
        }
        catch (WorkerException e)
        {
            throw Refused(e);
        }
    }

    public override async Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        TokenizeChecks.Validate(request);
        try
        {
            return await worker.TokenizeAsync(request, context.CancellationToken).ConfigureAwait(false);
        }
        catch (EngineException e)
        {
            throw new RpcException(new Status(StatusCodeOf(e.Kind), e.Message));
        }
    }

    public override async Task<DetokenizeResponse> Detokenize(DetokenizeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return new DetokenizeResponse { Text = await worker.DetokenizeAsync([.. request.TokenIds], context.CancellationToken).ConfigureAwait(false) };
        }
        catch (EngineException e)
        {
            throw new RpcException(new Status(StatusCodeOf(e.Kind), e.Message));
        }
    }

    internal static StatusCode StatusCodeOf(EngineFailureKind kind) => kind switch
    {
        EngineFailureKind.Unavailable => StatusCode.Unavailable,
        EngineFailureKind.Unsupported => StatusCode.Unimplemented,
        EngineFailureKind.Request => StatusCode.InvalidArgument,
        _ => StatusCode.Internal,
    };

    private RpcException Refused(WorkerException e)
    {
        LogRefused(e.Kind, e.Message);
        return e.ToRpcException();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "call refused ({Kind}): {Reason}")]
    private partial void LogRefused(WorkerErrorKind kind, string reason);
}

/// <summary>The checks every worker applies to a TokenizeRequest.</summary>
public static class TokenizeChecks
{
    /// <summary>Throws INVALID_ARGUMENT unless exactly one of prompt and messages is given.</summary>
    public static void Validate(TokenizeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Messages.Count > 0 == (request.Prompt.Length > 0))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a TokenizeRequest needs exactly one of prompt and messages"));
        }

        for (var i = 0; i < request.Messages.Count; i++)
        {
            if (string.IsNullOrEmpty(request.Messages[i].Role))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"messages[{i}].role is empty"));
            }
        }
    }

    /// <summary>The sim engine's answer: the stand-in tokenizer and chat template.</summary>
    public static TokenizeResponse StandIn(TokenizeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var text = request.Messages.Count > 0
            ? StandInTokenizer.RenderChat(request.Messages.Select(m => (m.Role, m.Content)), request.AddGenerationPrompt)
            : request.Prompt;
        var response = new TokenizeResponse();
        response.TokenIds.AddRange(StandInTokenizer.Encode(text));
        return response;
    }
}
