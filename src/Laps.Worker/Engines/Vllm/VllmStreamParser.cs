using System.Text.Json;

namespace Laps.Worker.Engines.Vllm;

/// <summary>
/// Parses one event of vLLM's <c>/v1/completions</c> stream (OpenAI completion chunks with vLLM's extensions) into an
/// <see cref="EngineChunk"/>. Follows vllm/entrypoints/openai/completion/protocol.py (CompletionStreamResponse,
/// CompletionResponseStreamChoice: <c>text</c>, <c>token_ids</c> with <c>return_token_ids</c>, <c>finish_reason</c>,
/// <c>stop_reason</c>), vllm/entrypoints/openai/completion/serving.py (continuous usage on each chunk, a final chunk
/// with empty choices carrying <c>usage</c> with <c>prompt_tokens_details.cached_tokens</c> and, in newer releases,
/// <c>metrics.speculative_decoding</c>; an error event, then <c>[DONE]</c>) and
/// vllm/entrypoints/generate/base/protocol.py (SpeculativeDecodingMetrics). Stateless.
/// </summary>
public static class VllmStreamParser
{
    private const string Engine = "vllm";

    public static EngineChunk Parse(string data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Trim() == "[DONE]")
        {
            return EngineChunk.DoneMarker;
        }

        var root = JsonRead.Parse(data, Engine);
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw JsonRead.Malformed(Engine, $"expected an object: {JsonRead.Excerpt(data)}");
        }

        // Errors: {"error": {"message": ...}} (current), {"object": "error", "message": ...} (older releases).
        if (root.Prop("error") is { } error)
        {
            return new EngineChunk { Error = error.ValueKind == JsonValueKind.Object && error.Prop("message") is { } m ? m.ToString() : error.ToString() };
        }

        if (root.Str("object", Engine) == "error")
        {
            return new EngineChunk { Error = root.Str("message", Engine) ?? "vllm reported an error" };
        }

        var chunk = new EngineChunk();
        if (root.Prop("choices") is { } choices)
        {
            if (choices.ValueKind != JsonValueKind.Array)
            {
                throw JsonRead.Malformed(Engine, "'choices' is not an array");
            }

            if (choices.GetArrayLength() > 1)
            {
                throw JsonRead.Malformed(Engine, "more than one choice: the adapter sends n = 1");
            }

            if (choices.GetArrayLength() == 1)
            {
                var choice = choices[0];
                var text = choice.Str("text", Engine) ?? string.Empty;
                var ids = choice.Ids("token_ids", Engine)
                    ?? throw JsonRead.Malformed(Engine, "a choice without 'token_ids': this vLLM does not support return_token_ids (it needs a release that does)");
                var finish = choice.Str("finish_reason", Engine) switch
                {
                    null => EngineFinish.None,
                    "stop" => EngineFinish.Stop,
                    "length" => EngineFinish.Length,
                    "abort" => EngineFinish.Abort,
                    var other => throw JsonRead.Malformed(Engine, $"unknown finish_reason '{other}'"),
                };
                chunk = chunk with
                {
                    TokenIds = ids,
                    Text = text,
                    Finish = finish,
                    FinishDetail = choice.Prop("stop_reason")?.ToString(),
                };
            }
        }

        if (root.Prop("usage") is { } usage)
        {
            chunk = chunk with
            {
                PromptTokens = usage.Int("prompt_tokens", Engine),
                CompletionTokens = usage.Int("completion_tokens", Engine),
                CachedTokens = usage.Prop("prompt_tokens_details")?.Int("cached_tokens", Engine),
            };
        }

        if (root.Prop("metrics")?.Prop("speculative_decoding") is { } spec)
        {
            chunk = chunk with
            {
                SpecVerifySteps = spec.Int("num_spec_steps", Engine),
                SpecAcceptedDrafts = spec.Int("num_accepted_draft_tokens", Engine),
                SpecDraftTokens = spec.Int("num_draft_tokens", Engine),
            };
        }

        return chunk;
    }
}
