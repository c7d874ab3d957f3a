using System.Globalization;
using System.Text;
using System.Text.Json;
using Laps.Scheduler.Observability;
using Laps.Scheduler.Serving.Sessions;

namespace Laps.Scheduler.Api;

/// <summary>
/// A validated completion request: what the sidecar needs from the OpenAI body. The prompt is either token ids (they
/// pass through untouched, as a trace replay sends them) or text / chat messages that the served model's tokenizer and
/// chat template turn into ids (<see cref="Prompt"/>).
/// </summary>
public sealed record CompletionRequest(
    string Model, IReadOnlyList<int>? PromptTokenIds, PromptInput? Prompt, int MaxTokens, bool Stream, ulong? Seed, bool Chat, SamplingOptions? Sampling);

/// <summary>
/// Reads an OpenAI <c>/v1/completions</c> or <c>/v1/chat/completions</c> body. Every client mistake becomes an
/// <see cref="ApiException"/> naming the parameter. Sampling parameters are passed through to the engine; parameters
/// the server cannot honour (structured output, tools, log-probabilities, several choices...) are refused by name, never
/// silently ignored.
/// </summary>
public static class CompletionRequestParser
{
    // OpenAI parameters that change what the answer is and that no worker here honours.
    private static readonly string[] Unsupported =
        ["response_format", "tools", "tool_choice", "functions", "function_call", "logprobs", "top_logprobs", "logit_bias", "best_of", "echo", "suffix", "guided_json", "guided_regex", "guided_choice", "guided_grammar"];

    public static CompletionRequest Parse(JsonElement body, bool chat, SchedulerOptions options)
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

        RefuseUnsupported(body);
        IReadOnlyList<int>? promptIds = null;
        PromptInput prompt;
        if (chat)
        {
            prompt = new PromptInput(null, Messages(body));
        }
        else
        {
            (promptIds, var text) = Prompt(body);
            prompt = new PromptInput(text, null);
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

        var sampling = Sampling(body);
        var seed = sampling?.Seed is long s ? unchecked((ulong)s) : (ulong?)null;
        return new CompletionRequest(model, promptIds, promptIds is null ? prompt : null, maxTokens, stream, seed, chat, sampling);
    }

    /// <summary>The prompt's token count against the limit, once it is known (after tokenizing).</summary>
    public static void CheckPromptLength(int tokens, bool chat, SchedulerOptions options)
    {
        if (tokens > options.MaxPromptTokens)
        {
            throw new ApiException(
                400,
                string.Create(CultureInfo.InvariantCulture, $"the prompt has {tokens} tokens; the limit is {options.MaxPromptTokens}"),
                ApiException.InvalidRequest, chat ? "messages" : "prompt", "context_length_exceeded", RejectReason.PromptTooLong);
        }

        if (tokens == 0)
        {
            throw ApiException.Invalid(chat ? "'messages' has no tokens" : "'prompt' is empty", chat ? "messages" : "prompt");
        }
    }

    private static void RefuseUnsupported(JsonElement body)
    {
        foreach (var name in Unsupported)
        {
            if (!body.TryGetProperty(name, out var value) || IsUnset(name, value))
            {
                continue;
            }

            throw new ApiException(
                400, $"'{name}' is not supported by this server; send the request without it", ApiException.InvalidRequest, name, "unsupported_parameter",
                RejectReason.InvalidRequest);
        }
    }

    // Values that ask for nothing (what SDKs send by default) are not a use of the parameter.
    private static bool IsUnset(string name, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.False => true,
        JsonValueKind.Array => value.GetArrayLength() == 0,
        JsonValueKind.Object when name == "response_format" =>
            value.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "text",
        JsonValueKind.Object => !value.EnumerateObject().Any(),
        JsonValueKind.Number when name == "best_of" => value.TryGetInt32(out var n) && n == 1,
        JsonValueKind.Number when name == "logprobs" => value.TryGetInt32(out var n) && n == 0,
        JsonValueKind.String when name is "tool_choice" or "function_call" => value.GetString() == "none",
        _ => false,
    };

    private static SamplingOptions? Sampling(JsonElement body)
    {
        var sampling = new SamplingOptions
        {
            Temperature = Number(body, "temperature", 0, 2),
            TopP = Number(body, "top_p", 0, 1, exclusiveMinimum: true),
            TopK = Integer(body, "top_k", -1, int.MaxValue),
            MinP = Number(body, "min_p", 0, 1),
            PresencePenalty = Number(body, "presence_penalty", -2, 2),
            FrequencyPenalty = Number(body, "frequency_penalty", -2, 2),
            RepetitionPenalty = Number(body, "repetition_penalty", 0, double.MaxValue, exclusiveMinimum: true),
            Stop = Stop(body),
            StopTokenIds = StopTokenIds(body),
            Seed = Long(body, "seed"),
            IgnoreEos = Boolean(body, "ignore_eos"),
            MinTokens = Integer(body, "min_tokens", 0, int.MaxValue) ?? 0,
        };
        return sampling.SetFields().Any() ? sampling : null;
    }

    private static double? Number(JsonElement body, string name, double minimum, double maximum, bool exclusiveMinimum = false)
    {
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var value) || !double.IsFinite(value))
        {
            throw ApiException.WrongType(name, "a number");
        }

        if (value < minimum || value > maximum || (exclusiveMinimum && value == minimum))
        {
            throw ApiException.Invalid(
                string.Create(CultureInfo.InvariantCulture, $"'{name}' is {value}; it must be in {(exclusiveMinimum ? "(" : "[")}{minimum}, {maximum}]"), name);
        }

        return value;
    }

    private static int? Integer(JsonElement body, string name, int minimum, int maximum)
    {
        var value = Long(body, name);
        if (value is null)
        {
            return null;
        }

        return value < minimum || value > maximum
            ? throw ApiException.Invalid(string.Create(CultureInfo.InvariantCulture, $"'{name}' is {value}; it must be at least {minimum}"), name)
            : (int)value;
    }

    private static long? Long(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value) ? value : throw ApiException.WrongType(name, "an integer");
    }

    private static bool Boolean(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        return element.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.WrongType(name, "a boolean"),
        };
    }

    private static string[] Stop(JsonElement body)
    {
        if (!body.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        string[] stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => [.. stop.EnumerateArray().Select(e => e.GetString()!)],
            _ => throw ApiException.WrongType("stop", "a string or an array of strings"),
        };
        if (stops.Length > 4 || stops.Any(string.IsNullOrEmpty))
        {
            throw ApiException.Invalid("'stop' takes up to 4 non-empty strings", "stop");
        }

        return stops;
    }

    private static int[] StopTokenIds(JsonElement body)
    {
        if (!body.TryGetProperty("stop_token_ids", out var ids) || ids.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (ids.ValueKind != JsonValueKind.Array || ids.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var id) || id < 0))
        {
            throw ApiException.WrongType("stop_token_ids", "an array of token ids");
        }

        return [.. ids.EnumerateArray().Select(e => e.GetInt32())];
    }

    private static (int[]? Ids, string? Text) Prompt(JsonElement body)
    {
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.Missing("prompt");
        }

        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                var text = prompt.GetString()!;
                return text.Length > 0 ? (null, text) : throw ApiException.Invalid("'prompt' is empty", "prompt");
            case JsonValueKind.Array:
                return (TokenIds(prompt), null);
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

    private static List<ChatTurn> Messages(JsonElement body)
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

        var turns = new List<ChatTurn>();
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

            turns.Add(new ChatTurn(role.GetString()!, Content(message, param)));
        }

        return turns;
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
