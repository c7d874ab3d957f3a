namespace Laps.Emulation;

/// <summary>
/// Makes the emulated model a function of its context, as a real model under greedy decoding is: a request whose prompt
/// is an earlier request's prompt + the tokens it generated (a preempted sequence resubmitted) continues that output
/// exactly, rather than starting a new one. It remembers, for every context the emulator produced, the length of the
/// original prompt and the seed; a new prompt found here is split into that prompt and the generated tail. Bounded
/// (cleared past its capacity: an emulator restarts its memory, not its correctness). Not thread-safe.
/// </summary>
public sealed class ContinuationIndex(int capacity = 4_000_000)
{
    private readonly Dictionary<ulong, Entry> _contexts = [];

    public int Count => _contexts.Count;

    /// <summary>Where a context came from: the original prompt's length and the seed.</summary>
    public readonly record struct Entry(int OriginLength, int ContextLength, ulong Seed);

    public static ulong Start => 14695981039346656037UL;

    public static ulong Extend(ulong hash, int token) => (hash ^ (uint)token) * 1099511628211UL ^ 0x9E3779B97F4A7C15UL;

    public static ulong HashOf(ReadOnlySpan<int> tokens)
    {
        var hash = Start;
        foreach (var token in tokens)
        {
            hash = Extend(hash, token);
        }

        return hash;
    }

    public void Remember(ulong contextHash, Entry entry)
    {
        if (_contexts.Count >= capacity)
        {
            _contexts.Clear();
        }

        _contexts[contextHash] = entry;
    }

    /// <summary>The origin of <paramref name="prompt"/>, when it continues an output this emulator produced.</summary>
    public Entry? Find(ReadOnlySpan<int> prompt)
        => _contexts.TryGetValue(HashOf(prompt), out var entry) && entry.ContextLength == prompt.Length && entry.OriginLength < prompt.Length
            ? entry
            : null;
}
