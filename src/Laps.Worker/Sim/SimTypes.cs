using Grpc.Core;

namespace Laps.Worker.Sim;

/// <summary>One sequence of a step request, as the engine takes it (the protocol's SequenceInput).</summary>
/// <param name="SequenceId">Unique among the sequences the worker holds.</param>
/// <param name="PromptTokenIds">Required when the worker does not hold the sequence; ignored otherwise.</param>
/// <param name="GeneratedTokenIds">Tokens generated before (elsewhere, or before an eviction): recomputed with the prompt.</param>
/// <param name="MaxTokens">Total generated tokens at which the sequence finishes with LENGTH; 0 for the worker default.</param>
/// <param name="Seed">Seeds synthetic acceptance when no trace entry matches the prompt.</param>
/// <param name="CachedTokens">Prefix tokens a prefix cache serves when the sequence is (re)prefilled: they cost no prefill time.</param>
/// <param name="PromptHash">The scheduler's <see cref="V1.PromptHash"/> of the prompt (null: not sent): a held sequence must have that prompt.</param>
public sealed record SequenceRequest(
    string SequenceId, int[] PromptTokenIds, int[] GeneratedTokenIds, int MaxTokens = 0, ulong Seed = 0, int CachedTokens = 0, ulong? PromptHash = null)
{
    /// <summary>The prompt this request says the sequence has: its hash as sent, else the hash of its prompt ids; null when it says nothing.</summary>
    public ulong? ClaimedPromptHash => PromptHash ?? (PromptTokenIds.Length > 0 ? V1.PromptHash.Of(PromptTokenIds) : null);

    public static SequenceRequest New(string sequenceId, int[] promptTokenIds, int maxTokens = 0, ulong seed = 0)
        => new(sequenceId, promptTokenIds, [], maxTokens, seed);

    /// <summary>A sequence the worker is expected to hold: no prompt.</summary>
    public static SequenceRequest Held(string sequenceId, int maxTokens = 0) => new(sequenceId, [], [], maxTokens);
}

public enum SequenceFinish
{
    None,

    /// <summary>The model emitted its end of sequence (the replayed trace ended).</summary>
    Stop,

    /// <summary>max_tokens reached.</summary>
    Length,
}

/// <summary>What one sequence did in one Step call.</summary>
public sealed record SequenceResult(
    string SequenceId,
    IReadOnlyList<int> TokenIds,
    string Text,
    int Steps,
    int Drafted,
    int Accepted,
    SequenceFinish Finish,
    bool Prefilled)
{
    public bool Finished => Finish != SequenceFinish.None;
}

/// <summary>The result of one Step call.</summary>
/// <param name="Outputs">One per batch sequence, in batch order.</param>
/// <param name="StepsRun">SD steps run (fewer than asked when every sequence finished early).</param>
/// <param name="ModelSeconds">Summed step times of the step-time model (before the time scale).</param>
/// <param name="KvTokensInUse">KV tokens held after the call.</param>
/// <param name="EvictedSequenceIds">Sequences evicted to make room (their state is gone).</param>
public sealed record StepOutcome(
    IReadOnlyList<SequenceResult> Outputs,
    int StepsRun,
    double ModelSeconds,
    long KvTokensInUse,
    IReadOnlyList<string> EvictedSequenceIds);

public enum WorkerErrorKind
{
    /// <summary>The request is malformed (gRPC INVALID_ARGUMENT).</summary>
    InvalidArgument,

    /// <summary>The request exceeds what the worker can hold (gRPC RESOURCE_EXHAUSTED).</summary>
    ResourceExhausted,

    /// <summary>
    /// The request does not fit the worker's state (gRPC FAILED_PRECONDITION): it names a sequence held for another
    /// prompt or another caller, or it comes from a superseded scheduler incarnation.
    /// </summary>
    FailedPrecondition,
}

/// <summary>A Step the engine refuses, before it changes any state; the message names the value at fault.</summary>
public sealed class WorkerException : Exception
{
    /// <summary>The refusal as the gRPC status a worker answers with.</summary>
    public RpcException ToRpcException() => new(new Status(
        Kind switch
        {
            WorkerErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
            WorkerErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
            _ => StatusCode.InvalidArgument,
        },
        Message));

    public WorkerException(WorkerErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    public WorkerException()
    {
    }

    public WorkerException(string message)
        : base(message)
    {
    }

    public WorkerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public WorkerErrorKind Kind { get; }
}
