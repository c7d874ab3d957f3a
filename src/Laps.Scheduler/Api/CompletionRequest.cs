using System.Globalization;
using System.Text;
using System.Text.Json;
using Laps.Scheduler.Observability;

namespace Laps.Scheduler.Api;

/// <summary>A validated completion request: what the sidecar needs from the OpenAI body, prompt already tokenized.</summary>
public sealed record CompletionRequest(string Model, IReadOnlyList<int> PromptTokenIds, int MaxTokens, bool Stream, ulong? Seed, bool Chat);

/// <summary>
/// Reads an OpenAI <c>/v1/completions</c> or <c>/v1/chat/completions</c> body. Every client mistake becomes an
/// <see cref="ApiException"/> naming the parameter; fields the sidecar does not use (temperature, top_p...) are ignored.
/// </summary>
public static class CompletionRequestParser
{
    public static CompletionRequest Parse(JsonElement body, bool chat, SchedulerOptions options, ITokenizer tokenizer)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.Invalid("the request body must be a JSON object", null, "invalid_type");
        }

        var model = options.Model;
        if (body.TryGetProperty("model", out var modelElement) && modelElement.ValueKind != JsonValueKind.Null)
        {
            if (modelElement.ValueKind != JsonValueKind.String)
            {
                throw ApiException.WrongType("model", "a string");
            }

            model = modelElement.GetString()!;
            if (!string.Equals(model, options.Model, StringComparison.Ordinal))
            {
                throw new ApiException(
                    404, $"The model '{model}' does not exist; this endpoint serves '{options.Model}'", ApiException.InvalidRequest, "model", "model_not_found",
                    RejectReason.UnknownModel);
            }
        }

        var (promptIds, promptParam) = chat ? (Messages(body, tokenizer), "messages") : (Prompt(body, tokenizer), "prompt");
        if (promptIds.Count > options.MaxPromptTokens)
        {
            throw new ApiException(
                400,
                string.Create(CultureInfo.InvariantCulture, $"the prompt has {promptIds.Count} tokens; the limit is {options.MaxPromptTokens}"),
                ApiException.InvalidRequest, promptParam, "context_length_exceeded", RejectReason.PromptTooLong);
        }

        var maxTokens = options.DefaultMaxTokens;
        var maxTokensName = chat && body.TryGetProperty("max_completion_tokens", out _) ? "max_completion_tokens" : "max_tokens";
        if (body.TryGetProperty(maxTokensName, out var maxTokensElement) && maxTokensElement.ValueKind != JsonValueKind.Null)
        {
            if (maxTokensElement.ValueKind != JsonValueKind.Number || !maxTokensElement.TryGetInt64(out var requested))
            {
                throw ApiException.WrongType(maxTokensName, "an integer");
            }

            if (requested < 1 || requested > options.MaxCompletionTokens)
            {
                throw ApiException.Invalid(
                    string.Create(CultureInfo.InvariantCulture, $"'{maxTokensName}' is {requested}; it must be in 1..{options.MaxCompletionTokens}"), maxTokensName);
            }

            maxTokens = (int)requested;
        }

        var stream = false;
        if (body.TryGetProperty("stream", out var streamElement) && streamElement.ValueKind != JsonValueKind.Null)
        {
            stream = streamElement.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.WrongType("stream", "a boolean"),
            };
        }

        // One choice per request: the scheduler schedules sequences, and n > 1 would be n of them.
        if (body.TryGetProperty("n", out var n) && n.ValueKind != JsonValueKind.Null)
        {
            if (n.ValueKind != JsonValueKind.Number || !n.TryGetInt64(out var count))
            {
                throw ApiException.WrongType("n", "an integer");
            }

            if (count != 1)
            {
                throw ApiException.Invalid(string.Create(CultureInfo.InvariantCulture, $"'n' is {count}; only 1 is supported"), "n");
            }
        }

        ulong? seed = null;
        if (body.TryGetProperty("seed", out var seedElement) && seedElement.ValueKind != JsonValueKind.Null)
        {
            if (seedElement.ValueKind != JsonValueKind.Number || !seedElement.TryGetInt64(out var s))
            {
                throw ApiException.WrongType("seed", "an integer");
            }

            seed = unchecked((ulong)s);
        }

        return new CompletionRequest(model, promptIds, maxTokens, stream, seed, chat);
    }

    private static IReadOnlyList<int> Prompt(JsonElement body, ITokenizer tokenizer)
    {
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.Missing("prompt");
        }

        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                var ids = tokenizer.Encode(prompt.GetString()!);
                return ids.Count > 0 ? ids : throw ApiException.Invalid("'prompt' is empty", "prompt");
            case JsonValueKind.Array:
                return TokenIds(prompt);
            default:
                throw ApiException.WrongType("prompt", "a string or an array of token ids");
        }
    }

    // Token ids pass through untouched, so sim workers can replay traces keyed by prompt token ids.
    private static int[] TokenIds(JsonElement array)
    {
        var length = array.GetArrayLength();
        if (length == 0)
        {
            throw ApiException.Invalid("'prompt' is empty", "prompt");
        }

        var ids = new int[length];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind is JsonValueKind.String or JsonValueKind.Array)
            {
                throw ApiException.Invalid("batched prompts (arrays of strings or of arrays) are not supported; send one prompt per request", "prompt");
            }

            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id))
            {
                throw ApiException.WrongType("prompt", "a string or an array of integer token ids");
            }

            if (id < 0)
            {
                throw ApiException.Invalid(string.Create(CultureInfo.InvariantCulture, $"token id {id} is negative"), "prompt");
            }

            ids[i++] = id;
        }

        return ids;
    }

    private static IReadOnlyList<int> Messages(JsonElement body, ITokenizer tokenizer)
    {
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.Missing("messages");
        }

        if (messages.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType("messages", "an array of messages");
        }

        if (messages.GetArrayLength() == 0)
        {
            throw ApiException.Invalid("'messages' is empty", "messages");
        }

        // A stand-in chat template (a real deployment applies the model's): "<|role|>\ncontent\n" per message.
        var prompt = new StringBuilder();
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var param = string.Create(CultureInfo.InvariantCulture, $"messages[{index++}]");
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType(param, "an object with a role and a content");
            }

            if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(role.GetString()))
            {
                throw ApiException.Invalid($"'{param}.role' must be a non-empty string", $"{param}.role", "invalid_type");
            }

            prompt.Append("<|").Append(role.GetString()).Append("|>\n").Append(Content(message, param)).Append('\n');
        }

        prompt.Append("<|assistant|>\n");
        return tokenizer.Encode(prompt.ToString());
    }

    private static string Content(JsonElement message, string param)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return string.Empty; // e.g. an assistant turn that only called tools
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType($"{param}.content", "a string or an array of text parts");
        }

        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
            {
                throw ApiException.WrongType($"{param}.content", "a string or an array of text parts");
            }

            text.Append(partText.GetString());
        }

        return text.ToString();
    }
}
