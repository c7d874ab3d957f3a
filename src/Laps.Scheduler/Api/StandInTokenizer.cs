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
/// The protocol's stand-in tokenizer (<see cref="Laps.Worker.V1.StandInTokenizer"/>, what the sim engine applies), for
/// workers that predate <c>Tokenize</c>; a real deployment's workers tokenize with the served model's tokenizer.
/// </summary>
public sealed class StandInTokenizer : ITokenizer
{
    public IReadOnlyList<int> Encode(string text) => Laps.Worker.V1.StandInTokenizer.Encode(text);

    public string Decode(IReadOnlyList<int> tokenIds)
    {
        var text = new StringBuilder();
        foreach (var id in tokenIds)
        {
            text.Append(CultureInfo.InvariantCulture, $" t{id}");
        }

        return text.ToString();
    }
}

/// <summary>The protocol's stand-in chat template over the sidecar's chat turns.</summary>
public static class StandInChat
{
    public static string Render(IEnumerable<Laps.Scheduler.Serving.Sessions.ChatTurn> messages)
        => Laps.Worker.V1.StandInTokenizer.RenderChat(messages.Select(m => (m.Role, m.Content)), addGenerationPrompt: true);
}
