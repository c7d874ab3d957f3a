namespace Laps.Simulation.Workloads;

/// <summary>
/// One request a workload can produce: its prompt and, per proposer, the acceptance trace in the SpecDecode-Bench
/// convention: <c>accLen[p]</c> = 1 + the number of consecutive drafts the target accepts when speculation starts
/// at output position p. The output length under a proposer is the length of its array.
/// </summary>
/// <remarks><c>GeneratedTokenIds</c> are the tokens the model generated when the trace was recorded (upstream format only).</remarks>
public sealed record WorkloadEntry(
    string Source,
    string Id,
    int PromptTokens,
    int[] AccLenEagle,
    int[] AccLenNgram,
    int[]? PromptTokenIds = null,
    int[]? GeneratedTokenIds = null)
{
    public int[] AccLen(Laps.Scheduling.Estimation.ProposerKind proposer)
        => proposer == Laps.Scheduling.Estimation.ProposerKind.Ngram ? AccLenNgram : AccLenEagle;

    /// <summary>Output length in tokens under <paramref name="proposer"/>: the length of its acceptance array.</summary>
    public int OutputTokens(Laps.Scheduling.Estimation.ProposerKind proposer) => AccLen(proposer).Length;
}
