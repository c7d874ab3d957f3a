using System.Text;

namespace Laps.Worker.V1;

/// <summary>
/// The sim engine's tokenizer, not a model's: one token per word or punctuation mark, its id a stable hash (FNV-1a) of
/// the piece into a 32000-token vocabulary, and a stand-in chat template ("&lt;|role|&gt;\ncontent\n" per message, then
/// "&lt;|assistant|&gt;\n"): what a worker whose description says tokenizer "stand-in" applies, and what the scheduler
/// falls back to for a worker that predates Tokenize. Deterministic on every machine and run; thread-safe.
/// </summary>
public static class StandInTokenizer
{
    public const string Name = "stand-in";

    public const int VocabularySize = 32_000;

    public static int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        var start = -1;
        for (var i = 0; i <= text.Length; i++)
        {
            var c = i < text.Length ? text[i] : ' ';
            if (char.IsLetterOrDigit(c))
            {
                if (start < 0)
                {
                    start = i;
                }

                continue;
            }

            if (start >= 0)
            {
                ids.Add(Hash(text.AsSpan(start, i - start)));
                start = -1;
            }

            if (!char.IsWhiteSpace(c))
            {
                ids.Add(Hash(text.AsSpan(i, 1)));
            }
        }

        return [.. ids];
    }

    /// <summary>The stand-in chat template applied to (role, content) pairs.</summary>
    public static string RenderChat(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var prompt = new StringBuilder();
        foreach (var (role, content) in messages)
        {
            prompt.Append("<|").Append(role).Append("|>\n").Append(content).Append('\n');
        }

        if (addGenerationPrompt)
        {
            prompt.Append("<|assistant|>\n");
        }

        return prompt.ToString();
    }

    private static int Hash(ReadOnlySpan<char> piece)
    {
        var hash = 2166136261u;
        foreach (var c in piece)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % VocabularySize);
    }
}
