using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>
/// What a policy (and the batch scheduler driving it) keeps about one request while it is admitted: its positions in
/// the policy's heaps, its starvation clock and boost, its level, and the policy's scratch. The policy creates it on
/// admission and drops it on removal, so a request admitted again (here or on another worker's policy) starts clean.
/// </summary>
internal sealed class PolicyEntry(RequestState request)
{
    public readonly RequestState Request = request;

    /// <summary>Position in the queue heap (-1 when absent).</summary>
    public int QueueIndex = -1;

    /// <summary>Position in the starvation guard's idle heap (-1 when absent).</summary>
    public int IdleIndex = -1;

    /// <summary>Decision counter value when this request last ran, or was admitted or boosted.</summary>
    public long LastServedDecision;

    /// <summary>The decision until which the starvation guard boosts this request (exclusive).</summary>
    public long BoostUntilDecision = -1;

    /// <summary>The batch scheduler's last decision that selected this request.</summary>
    public long SelectedInDecision = -1;

    /// <summary>The policy's queue level for this request (MLFQ, LAPS-SD).</summary>
    public int Level;

    /// <summary>When this request entered <see cref="Level"/>, by the policy's sequence (0: not yet).</summary>
    public long LevelEnteredSequence;

    /// <summary>Whatever else the policy caches for this request (e.g. LAPS-SD's posterior neighbourhood).</summary>
    public object? Scratch;
}
