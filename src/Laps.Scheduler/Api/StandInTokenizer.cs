using System.Globalization;
using System.Text;

namespace Laps.Scheduler.Api;

/// <summary>
/// Turns prompt text into token ids. The sidecar only needs a prompt's length and ids the worker can replay; a real
/// deployment registers the served model's tokenizer in DI instead of <see cref="StandInTokenizer"/>.
/// </summary>
public interface ITokenizer
{
    IReadOnlyList<int> Encode(string text);

    /// <summary>Text for token ids a worker returned without text.</summary>
    string Decode(IReadOnlyList<int> tokenIds);
}

/// <summary>
/// A deterministic stand-in, not a model's tokenizer: one token per word or punctuation mark, its id a stable hash
/// (FNV-1a) of the piece into a 32000-token vocabulary. Same text, same ids, on every machine and run.
/// </summary>
public sealed class StandInTokenizer : ITokenizer
{
    public const int VocabularySize = 32_000;

    public IReadOnlyList<int> Encode(string text)
    {
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

        return ids;
    }

    public string Decode(IReadOnlyList<int> tokenIds)
    {
        var text = new StringBuilder();
        foreach (var id in tokenIds)
        {
            text.Append(CultureInfo.InvariantCulture, $" t{id}");
        }

        return text.ToString();
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

/// <summary>The stand-in chat template the sim engine applies too: "&lt;|role|&gt;\ncontent\n" per message, then "&lt;|assistant|&gt;\n".</summary>
public static class StandInChat
{
    public static string Render(IEnumerable<Laps.Scheduler.Serving.Sessions.ChatTurn> messages)
    {
        var prompt = new StringBuilder();
        foreach (var message in messages)
        {
            prompt.Append("<|").Append(message.Role).Append("|>\n").Append(message.Content).Append('\n');
        }

        return prompt.Append("<|assistant|>\n").ToString();
    }
}
