namespace Laps.Worker.Sim;

/// <summary>Deterministic token ids and text for the sim engine: clients see words, not a real tokenizer's output.</summary>
public static class SimVocabulary
{
    /// <summary>Pseudo token ids lie in [0, Size) (Llama-2's vocabulary size).</summary>
    public const int Size = 32_000;

    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are", "with",
        "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "word", "but", "what",
        "some", "we", "can", "out", "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each",
        "she", "which", "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write", "would", "like", "so",
    ];

    /// <summary>The text of one token: a leading space and a word chosen by the id.</summary>
    public static string Text(int tokenId) => " " + Words[(int)((uint)tokenId % (uint)Words.Length)];

    public static string Text(IEnumerable<int> tokenIds) => string.Concat(tokenIds.Select(Text));

    /// <summary>The pseudo token at <paramref name="position"/> of the sequence with hash <paramref name="key"/>.</summary>
    public static int PseudoTokenId(ulong key, int position) => (int)(Mix(key + (ulong)(uint)position) % Size);

    /// <summary>A stable hash of a prompt combined with a seed (FNV-1a over the ids, then a SplitMix64 finalizer).</summary>
    public static ulong SequenceKey(ulong seed, IReadOnlyList<int> promptTokenIds)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        var hash = 14695981039346656037UL;
        for (var i = 0; i < promptTokenIds.Count; i++)
        {
            hash = (hash ^ (uint)promptTokenIds[i]) * 1099511628211UL;
        }

        return Mix(hash ^ Mix(seed));
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
