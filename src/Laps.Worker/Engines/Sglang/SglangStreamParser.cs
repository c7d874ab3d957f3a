using System.Text.Json;

namespace Laps.Worker.Engines.Sglang;

/// <summary>
/// Parses the events of SGLang's native <c>/generate</c> stream into <see cref="EngineChunk"/>s with delta tokens and
/// text. Follows python/sglang/srt/entrypoints/http_server.py (<c>data: {json}</c> per output, an
/// <c>{"error": {"message"}}</c> event, then <c>[DONE]</c>) and python/sglang/srt/managers/tokenizer_manager.py
/// (<c>text</c> and <c>output_ids</c> are cumulative unless the server runs with incremental streaming output;
/// <c>meta_info</c> carries <c>prompt_tokens</c>, <c>completion_tokens</c>, <c>cached_tokens</c>,
/// <c>finish_reason</c> as <c>{"type": "stop"|"length"|"abort", ...}</c> per schedule_batch.py, and with speculative
/// decoding <c>spec_verify_ct</c> plus accepted/proposed draft counts whose names changed across releases:
/// <c>spec_num_correct_drafts</c>/<c>spec_accepted_drafts</c>/<c>spec_accept_token_num</c> and
/// <c>spec_num_proposed_drafts</c>/<c>spec_proposed_drafts</c>/<c>spec_draft_token_num</c>). One parser per engine
/// request: it remembers how much it has seen, to turn cumulative outputs into deltas.
/// </summary>
public sealed class SglangStreamParser
{
    private const string Engine = "sglang";
    private int _tokensSeen;
    private int _textSeen;

    public EngineChunk Parse(string data)
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

        if (root.Prop("error") is { } error)
        {
            return new EngineChunk { Error = error.ValueKind == JsonValueKind.Object && error.Prop("message") is { } m ? m.ToString() : error.ToString() };
        }

        var meta = root.Prop("meta_info") ?? throw JsonRead.Malformed(Engine, "no 'meta_info'");
        var completion = meta.Int("completion_tokens", Engine);
        var ids = root.Ids("output_ids", Engine) ?? root.Ids("token_ids", Engine)
            ?? throw JsonRead.Malformed(Engine, "no 'output_ids': the adapter needs the token ids of each output");
        var text = root.Str("text", Engine) ?? string.Empty;

        // Cumulative (the default) when the ids cover every token so far; incremental otherwise.
        var cumulative = completion is { } c ? ids.Length == c && ids.Length >= _tokensSeen : ids.Length >= _tokensSeen;
        int[] delta;
        string deltaText;
        if (cumulative)
        {
            delta = ids[_tokensSeen..];
            _tokensSeen = ids.Length;
            deltaText = text.Length >= _textSeen ? text[_textSeen..] : throw JsonRead.Malformed(Engine, "cumulative text shrank");
            _textSeen = text.Length;
        }
        else
        {
            delta = ids;
            _tokensSeen += ids.Length;
            deltaText = text;
            _textSeen += text.Length;
        }

        var (finish, detail) = meta.Prop("finish_reason") is { } reason ? FinishOf(reason) : (EngineFinish.None, null);
        return new EngineChunk
        {
            TokenIds = delta,
            Text = deltaText,
            Finish = finish,
            FinishDetail = detail,
            PromptTokens = meta.Int("prompt_tokens", Engine),
            CompletionTokens = completion,
            CachedTokens = meta.Int("cached_tokens", Engine),
            SpecVerifySteps = meta.Int("spec_verify_ct", Engine),
            SpecAcceptedDrafts = meta.Int("spec_num_correct_drafts", Engine) ?? meta.Int("spec_accepted_drafts", Engine) ?? meta.Int("spec_accept_token_num", Engine),
            SpecDraftTokens = meta.Int("spec_num_proposed_drafts", Engine) ?? meta.Int("spec_proposed_drafts", Engine) ?? meta.Int("spec_draft_token_num", Engine),
        };
    }

    private static (EngineFinish, string?) FinishOf(JsonElement reason)
    {
        if (reason.ValueKind == JsonValueKind.String)
        {
            // Some releases send the OpenAI spelling.
            return (reason.GetString() switch
            {
                "stop" => EngineFinish.Stop,
                "length" => EngineFinish.Length,
                "abort" => EngineFinish.Abort,
                var other => throw JsonRead.Malformed(Engine, $"unknown finish_reason '{other}'"),
            }, null);
        }

        var type = reason.Str("type", Engine) ?? throw JsonRead.Malformed(Engine, "finish_reason without a 'type'");
        return type switch
        {
            "stop" => (EngineFinish.Stop, reason.Prop("matched")?.ToString()),
            "length" => (EngineFinish.Length, null),
            "abort" => (EngineFinish.Abort, reason.Prop("message")?.ToString() ?? "aborted"),
            _ => throw JsonRead.Malformed(Engine, $"unknown finish_reason type '{type}'"),
        };
    }
}
