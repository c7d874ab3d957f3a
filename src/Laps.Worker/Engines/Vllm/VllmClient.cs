using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Laps.Worker.V1;

namespace Laps.Worker.Engines.Vllm;

/// <summary>
/// vLLM's OpenAI-compatible server as the adapter uses it (vllm/entrypoints/openai/api_server.py and its routers):
/// <c>GET /health</c> (the port is closed until the model is loaded), <c>GET /v1/models</c> (id, max_model_len),
/// <c>POST /v1/completions</c> streaming with a token-id prompt, <c>return_token_ids</c> and continuous usage,
/// <c>POST /tokenize</c> (prompt, or messages through the chat template) and <c>POST /detokenize</c>
/// (vllm/entrypoints/serve/tokenize/protocol.py). Closing a stream aborts its request (vllm/v1/engine/async_llm.py),
/// so no abort call is needed.
/// </summary>
public sealed class VllmClient(Uri baseUrl, HttpClient? http = null) : EngineClient(baseUrl, http)
{
    public override string EngineName => "vllm";

    public override async Task<EngineStatus> ProbeAsync(CancellationToken cancellationToken)
    {
        var health = await TryGetAsync("health", cancellationToken).ConfigureAwait(false);
        if (health is null)
        {
            return new EngineStatus(false, null, 0, $"vllm at {BaseUrl} refuses connections (loading, or not running)");
        }

        if (health.Value.Status != HttpStatusCode.OK)
        {
            return new EngineStatus(false, null, 0, $"vllm /health answered {(int)health.Value.Status}");
        }

        var models = await TryGetAsync("v1/models", cancellationToken).ConfigureAwait(false);
        if (models is not { Status: HttpStatusCode.OK } m)
        {
            return new EngineStatus(false, null, 0, "vllm /v1/models did not answer 200");
        }

        try
        {
            using var json = JsonDocument.Parse(m.Body);
            var first = json.RootElement.GetProperty("data")[0];
            return new EngineStatus(true, first.GetProperty("id").GetString(), first.Int("max_model_len", "vllm") ?? 0, "ready");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or IndexOutOfRangeException or InvalidOperationException or EngineException)
        {
            return new EngineStatus(false, null, 0, "vllm /v1/models answered no model: " + e.Message);
        }
    }

    public override async IAsyncEnumerable<EngineChunk> GenerateAsync(EngineGeneration generation, string model, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(generation);
        await foreach (var data in PostSseAsync("v1/completions", Body(generation, model), cancellationToken).ConfigureAwait(false))
        {
            yield return VllmStreamParser.Parse(data);
        }
    }

    /// <summary>The completion request for an engine request (internal for the contract tests).</summary>
    internal static JsonObject Body(EngineGeneration generation, string model)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["prompt"] = Ids(generation.PromptTokenIds),
            ["max_tokens"] = generation.MaxTokens,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true, ["continuous_usage_stats"] = true },
            ["return_token_ids"] = true,
            ["include_stop_str_in_output"] = false,
        };
        AddCommonSampling(body, generation.Sampling);
        if (generation.Sampling is { HasSeed: true } s)
        {
            body["seed"] = s.Seed;
        }

        if (generation.MinTokens > 0)
        {
            body["min_tokens"] = generation.MinTokens;
        }

        return body;
    }

    public override async Task<TokenizeResponse> TokenizeAsync(TokenizeRequest request, string model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = new JsonObject { ["model"] = model };
        if (request.Messages.Count > 0)
        {
            body["messages"] = new JsonArray([.. request.Messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]);
            body["add_generation_prompt"] = request.AddGenerationPrompt;
        }
        else
        {
            body["prompt"] = request.Prompt;
        }

        if (request.HasAddSpecialTokens)
        {
            body["add_special_tokens"] = request.AddSpecialTokens;
        }

        var json = await PostJsonAsync("tokenize", body, cancellationToken).ConfigureAwait(false);
        var response = new TokenizeResponse { MaxModelLen = json.Int("max_model_len", "vllm") ?? 0 };
        response.TokenIds.AddRange(json.Ids("tokens", "vllm") ?? throw JsonRead.Malformed("vllm", "/tokenize answered no 'tokens'"));
        return response;
    }

    public override async Task<string> DetokenizeAsync(IReadOnlyList<int> tokenIds, string model, CancellationToken cancellationToken)
    {
        var json = await PostJsonAsync("detokenize", new JsonObject { ["model"] = model, ["tokens"] = Ids(tokenIds) }, cancellationToken).ConfigureAwait(false);
        return json.Str("prompt", "vllm") ?? throw JsonRead.Malformed("vllm", "/detokenize answered no 'prompt'");
    }
}
