namespace Laps.Scheduler.Serving.Sessions;

/// <summary>
/// One worker as the scheduler talks to it: what it is (<see cref="DescribeAsync"/>), one step of a batch
/// (<see cref="StepAsync"/>) and dropping sequences' state (<see cref="ReleaseAsync"/>), in domain types. The gRPC
/// client of the worker protocol is one implementation; tests use an in-memory one. Failures surface as
/// <see cref="WorkerCallException"/>.
/// </summary>
public interface IWorkerSession
{
    Task<WorkerInfo> DescribeAsync(TimeSpan timeout, CancellationToken cancellationToken);

    Task<StepResult> StepAsync(IReadOnlyList<SequenceStep> batch, TimeSpan timeout, CancellationToken cancellationToken);

    Task ReleaseAsync(IReadOnlyList<string> sequenceIds, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// Token ids for a prompt or chat messages with the served model's tokenizer and chat template. A worker that
    /// cannot (one that predates the call, or an engine without a chat template endpoint) fails with
    /// <see cref="WorkerFault.Unimplemented"/>.
    /// </summary>
    Task<IReadOnlyList<int>> TokenizeAsync(PromptInput prompt, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>A prompt as the client sent it: text, or chat messages (exactly one of them).</summary>
public sealed record PromptInput(string? Text, IReadOnlyList<ChatTurn>? Messages);

public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// How to sample a sequence's tokens, passed through to the engine (the protocol's <c>SamplingParams</c>); null fields
/// keep the engine's defaults. A worker honours the fields its description lists and refuses the others.
/// </summary>
public sealed record SamplingOptions
{
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    public double? RepetitionPenalty { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    public long? Seed { get; init; }
    public bool IgnoreEos { get; init; }
    public int MinTokens { get; init; }

    /// <summary>The protocol names of the fields set here, as a worker's description lists those it honours.</summary>
    public IEnumerable<string> SetFields()
    {
        if (Temperature is not null) yield return "temperature";
        if (TopP is not null) yield return "top_p";
        if (TopK is not null) yield return "top_k";
        if (MinP is not null) yield return "min_p";
        if (PresencePenalty is not null) yield return "presence_penalty";
        if (FrequencyPenalty is not null) yield return "frequency_penalty";
        if (RepetitionPenalty is not null) yield return "repetition_penalty";
        if (Stop.Count > 0) yield return "stop";
        if (StopTokenIds.Count > 0) yield return "stop_token_ids";
        if (Seed is not null) yield return "seed";
        if (IgnoreEos) yield return "ignore_eos";
        if (MinTokens > 0) yield return "min_tokens";
    }
}

/// <summary>Opens the session to the worker at a discovered address.</summary>
public interface IWorkerSessionFactory
{
    IWorkerSession Create(string address);
}

/// <summary>What a worker runs and what it can hold (the protocol's <c>WorkerDescription</c>).</summary>
/// <param name="MaxBatch">Sequences one step may run; 0 when the worker sets no limit.</param>
/// <param name="KvCapacityTokens">KV tokens the worker holds; 0 when it did not say.</param>
/// <param name="Tokenizer">Whose tokenizer <see cref="IWorkerSession.TokenizeAsync"/> uses ("stand-in" for the sim engine; empty: a worker that predates it).</param>
/// <param name="SamplingParameters">The <see cref="SamplingOptions"/> fields the worker honours, by protocol name.</param>
/// <param name="ResumePrefillSecondsPerToken">
/// When a sequence left out of a batch loses its engine state (a real engine cannot pause it): the seconds per prefix
/// token its resume recomputes; 0 when preemption costs nothing (the sim engine keeps what it holds).
/// </param>
public sealed record WorkerInfo(
    string WorkerId,
    string Engine,
    int SpeculationLength,
    int MaxBatch,
    long KvCapacityTokens,
    LinearStepTime? StepTime = null,
    string Tokenizer = "",
    IReadOnlyList<string>? SamplingParameters = null,
    double ResumePrefillSecondsPerToken = 0);

/// <summary>
/// A worker's linear step-time model in seconds: verify = fixed + per_token · batched tokens + per_kv_token · KV
/// tokens, the same for the k drafts, plus a fixed overhead.
/// </summary>
public sealed record LinearStepTime(
    double VerifyFixed,
    double VerifyPerToken,
    double VerifyPerKvToken,
    double DraftFixed,
    double DraftPerToken,
    double DraftPerKvToken,
    double Overhead)
{
    /// <summary>Seconds of one step of <paramref name="batch"/> sequences drafting <paramref name="k"/> tokens over <paramref name="kvTokens"/> of context.</summary>
    public double StepSeconds(int k, int batch, double kvTokens)
        => VerifyFixed + (VerifyPerToken * batch * (k + 1)) + (VerifyPerKvToken * kvTokens)
           + DraftFixed + (DraftPerToken * batch * k) + (DraftPerKvToken * kvTokens) + Overhead;
}

/// <summary>One sequence of a step's batch. The prefix travels only when the worker does not hold the sequence.</summary>
/// <param name="PromptHash">The prompt's <c>PromptHash</c>, sent with every step: a worker holding the id for another prompt refuses it.</param>
public sealed record SequenceStep(
    string SequenceId,
    IReadOnlyList<int>? PromptTokenIds,
    IReadOnlyList<int>? GeneratedTokenIds,
    int MaxTokens,
    ulong Seed,
    SamplingOptions? Sampling = null,
    ulong? PromptHash = null);

/// <summary>What one step did for one sequence.</summary>
/// <param name="Stopped">Finished because the model ended the sequence (otherwise, when finished, by length).</param>
/// <param name="Error">Set when the engine failed this sequence alone: the worker no longer holds it; the tokens reported stand.</param>
/// <param name="CachedTokens">Prefix tokens the engine's prefix cache served on the sequence's last (re)prefill.</param>
public sealed record SequenceReport(
    string SequenceId,
    IReadOnlyList<int> TokenIds,
    string Text,
    int Drafted,
    int Accepted,
    bool Finished,
    bool Stopped,
    string? Error = null,
    int CachedTokens = 0);

/// <summary>A step's outcome: each sequence's report, the worker's own account of the time, and what it evicted.</summary>
public sealed record StepResult(IReadOnlyList<SequenceReport> Outputs, double ElapsedSeconds, IReadOnlyList<string> Evicted);

/// <summary>Why a call to a worker failed.</summary>
public enum WorkerFault
{
    /// <summary>Unreachable, restarting, or the call was cut.</summary>
    Unavailable,

    /// <summary>No answer within the deadline (hung, or far slower than its recent steps).</summary>
    DeadlineExceeded,

    /// <summary>The batch did not fit the worker.</summary>
    ResourceExhausted,

    /// <summary>The worker refused the call as malformed.</summary>
    InvalidArgument,

    /// <summary>The worker does not offer the call (it predates it, or its engine cannot).</summary>
    Unimplemented,

    Other,
}

/// <summary>A call to a worker failed; <see cref="Exception.Message"/> carries the worker's detail.</summary>
public sealed class WorkerCallException(WorkerFault fault, string message, Exception? inner = null) : Exception(message, inner)
{
    public WorkerFault Fault { get; } = fault;
}
