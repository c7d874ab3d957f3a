using Laps.Simulation.Workloads;

namespace Laps.Worker.Sim;

/// <summary>
/// What a sequence will do, fixed when the worker first sees it: its acceptance trace (accLen, in the replay convention
/// of <see cref="AcceptanceReplay"/>) and the token it emits at each output position.
/// </summary>
/// <param name="AccLen">accLen[p] = 1 + drafts accepted when speculation starts at output position p; the output ends at its length.</param>
/// <param name="Key">The hash of seed and prompt that makes pseudo token ids and synthetic acceptance reproducible.</param>
/// <param name="RecordedTokenIds">The trace's generated tokens when it recorded them; pseudo ids beyond (or without) them.</param>
/// <param name="Origin">The trace entry replayed ("trace:&lt;source&gt;/&lt;id&gt;") or the profile generated from ("profile:&lt;name&gt;").</param>
public sealed record SequenceScript(int[] AccLen, ulong Key, int[]? RecordedTokenIds, string Origin)
{
    /// <summary>The token at output position <paramref name="position"/>.</summary>
    public int TokenAt(int position)
        => RecordedTokenIds is { } recorded && position < recorded.Length
            ? recorded[position]
            : SimVocabulary.PseudoTokenId(Key, position);
}
