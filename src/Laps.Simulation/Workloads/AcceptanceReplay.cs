namespace Laps.Simulation.Workloads;

/// <summary>What one SD step does to a sequence replaying an acceptance trace.</summary>
/// <param name="Emitted">Tokens the step emits: the accepted drafts plus the target's own token, cut at the trace's end.</param>
/// <param name="Drafted">Tokens drafted: k.</param>
/// <param name="Accepted">Drafts the target accepted: e − 1 with e = min(accLen[p], k + 1).</param>
/// <param name="NextPosition">The output position after the step, p + e (at or past the end when finished).</param>
/// <param name="Finished">True when the step reached the end of the trace (the model's end of sequence).</param>
public readonly record struct ReplayStep(int Emitted, int Drafted, int Accepted, int NextPosition, bool Finished);

/// <summary>
/// The replay convention of the SpecDecode-Bench traces, shared by the simulator and the sim worker: a step that starts
/// at output position p with speculation length k emits e = min(accLen[p], k + 1) tokens (e − 1 accepted drafts and the
/// target's own token), moves to p + e, and the request finishes when p reaches len(accLen).
/// </summary>
public static class AcceptanceReplay
{
    /// <summary>One step from <paramref name="position"/> (0 ≤ position &lt; accLen.Length) with speculation length <paramref name="k"/> ≥ 0.</summary>
    public static ReplayStep Step(ReadOnlySpan<int> accLen, int position, int k)
    {
        if ((uint)position >= (uint)accLen.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"position must be in [0, {accLen.Length}): the trace is already finished");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var e = Math.Min(Math.Max(1, accLen[position]), k + 1);
        var next = position + e;
        return new ReplayStep(Math.Min(e, accLen.Length - position), k, e - 1, next, next >= accLen.Length);
    }
}
