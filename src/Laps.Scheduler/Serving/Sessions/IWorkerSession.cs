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
}

/// <summary>Opens the session to the worker at a discovered address.</summary>
public interface IWorkerSessionFactory
{
    IWorkerSession Create(string address);
}

/// <summary>What a worker runs and what it can hold (the protocol's <c>WorkerDescription</c>).</summary>
/// <param name="MaxBatch">Sequences one step may run; 0 when the worker sets no limit.</param>
/// <param name="KvCapacityTokens">KV tokens the worker holds; 0 when it did not say.</param>
public sealed record WorkerInfo(
    string WorkerId,
    string Engine,
    int SpeculationLength,
    int MaxBatch,
    long KvCapacityTokens,
    LinearStepTime? StepTime = null);

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
public sealed record SequenceStep(
    string SequenceId,
    IReadOnlyList<int>? PromptTokenIds,
    IReadOnlyList<int>? GeneratedTokenIds,
    int MaxTokens,
    ulong Seed);

/// <summary>What one step did for one sequence.</summary>
/// <param name="Stopped">Finished because the model ended the sequence (otherwise, when finished, by length).</param>
public sealed record SequenceReport(
    string SequenceId,
    IReadOnlyList<int> TokenIds,
    string Text,
    int Drafted,
    int Accepted,
    bool Finished,
    bool Stopped);

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

    Other,
}

/// <summary>A call to a worker failed; <see cref="Exception.Message"/> carries the worker's detail.</summary>
public sealed class WorkerCallException(WorkerFault fault, string message, Exception? inner = null) : Exception(message, inner)
{
    public WorkerFault Fault { get; } = fault;
}
