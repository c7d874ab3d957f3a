using System.Text.Json;
using System.Text.Json.Serialization;

namespace Laps.Scheduler.Api;

// OpenAI response shapes, snake_case on the wire. "laps" is this sidecar's extension: what speculative decoding did.

internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

internal sealed record LapsUsage(long DraftedTokens, long AcceptedTokens, double? AcceptanceRate, int Preemptions);

internal sealed record CompletionChoice(int Index, string Text, string? FinishReason, object? Logprobs = null);

internal sealed record ChatMessage(string Role, string Content);

internal sealed record ChatChoice(int Index, ChatMessage Message, string? FinishReason);

internal sealed record ChatDelta(string? Role, string? Content);

internal sealed record ChatChunkChoice(int Index, ChatDelta Delta, string? FinishReason);

internal sealed record CompletionResponse(
    string Id, string Object, long Created, string Model, IReadOnlyList<object> Choices, Usage? Usage, LapsUsage? Laps);

internal sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

internal sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

internal static class Wire
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>For stream chunks: usage and the extension only on the last one.</summary>
    public static JsonSerializerOptions ChunkOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
