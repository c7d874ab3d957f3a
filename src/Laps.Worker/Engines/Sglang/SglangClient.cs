using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Laps.Worker.V1;

namespace Laps.Worker.Engines.Sglang;

/// <summary>
/// SGLang's native HTTP API as the adapter uses it (python/sglang/srt/entrypoints/http_server.py): <c>GET /health</c>
/// (503 while the server starts), <c>GET /get_model_info</c>, <c>POST /generate</c> streaming with <c>input_ids</c>,
/// <c>sampling_params</c> and a fixed-width <c>rid</c>, <c>POST /abort_request {"rid"}</c> (the scheduler aborts every
/// request whose rid starts with the given one), <c>POST /v1/tokenize</c> and <c>/v1/detokenize</c>
/// (python/sglang/srt/entrypoints/openai/serving_tokenize.py: a prompt only, no chat template). A closed stream alone
/// aborts only after a delay (tokenizer_manager.py create_abort_task), so preemption calls <c>/abort_request</c> too.
/// </summary>
public sealed class SglangClient(Uri baseUrl, HttpClient? http = null) : EngineClient(baseUrl, http)
{
    public override string EngineName => "sglang";

    public override async Task<EngineStatus> ProbeAsync(CancellationToken cancellationToken)
    {
        var health = await TryGetAsync("health", cancellationToken).ConfigureAwait(false);
        if (health is null)
        {
            return new EngineStatus(false, null, 0, $"sglang at {BaseUrl} refuses connections (not running)");
        }

        if (health.Value.Status != HttpStatusCode.OK)
        {
            return new EngineStatus(false, null, 0, $"sglang /health answered {(int)health.Value.Status} (starting)");
        }

        var info = await TryGetAsync("get_model_info", cancellationToken).ConfigureAwait(false);
        if (info is not { Status: HttpStatusCode.OK } i)
        {
            return new EngineStatus(false, null, 0, "sglang /get_model_info did not answer 200");
        }

        try
        {
            using var json = JsonDocument.Parse(i.Body);
            var root = json.RootElement;
            return new EngineStatus(true, root.Str("model_path", "sglang"), root.Int("context_length", "sglang") ?? 0, "ready");
        }
        catch (Exception e) when (e is JsonException or EngineException)
        {
            return new EngineStatus(false, null, 0, "sglang /get_model_info answered no model: " + e.Message);
        }
    }

    public override async IAsyncEnumerable<EngineChunk> GenerateAsync(EngineGeneration generation, string model, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(generation);
        var parser = new SglangStreamParser();
        await foreach (var data in PostSseAsync("generate", Body(generation), cancellationToken).ConfigureAwait(false))
        {
            yield return parser.Parse(data);
        }
    }

    /// <summary>The native generate request for an engine request (internal for the contract tests).</summary>
    internal static JsonObject Body(EngineGeneration generation)
    {
        var sampling = new JsonObject { ["max_new_tokens"] = generation.MaxTokens };
        AddCommonSampling(sampling, generation.Sampling);
        if (generation.Sampling is { HasSeed: true } s)
        {
            sampling["sampling_seed"] = s.Seed;
        }

        if (generation.MinTokens > 0)
        {
            sampling["min_new_tokens"] = generation.MinTokens;
        }

        return new JsonObject
        {
            ["rid"] = generation.RequestId,
            ["input_ids"] = Ids(generation.PromptTokenIds),
            ["sampling_params"] = sampling,
            ["stream"] = true,
        };
    }

    public override async Task AbortAsync(string requestId, CancellationToken cancellationToken)
    {
        // The answer carries nothing: 200 whether or not the rid was running.
        await PostJsonOrEmptyAsync("abort_request", new JsonObject { ["rid"] = requestId }, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<TokenizeResponse> TokenizeAsync(TokenizeRequest request, string model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Messages.Count > 0)
        {
            throw new EngineException(EngineFailureKind.Unsupported,
                "sglang's /v1/tokenize takes a prompt, not chat messages: it cannot apply the model's chat template; render the template before tokenizing");
        }

        var body = new JsonObject { ["model"] = model, ["prompt"] = request.Prompt };
        if (request.HasAddSpecialTokens)
        {
            body["add_special_tokens"] = request.AddSpecialTokens;
        }

        var json = await PostJsonAsync("v1/tokenize", body, cancellationToken).ConfigureAwait(false);
        var response = new TokenizeResponse { MaxModelLen = Math.Max(0, json.Int("max_model_len", "sglang") ?? 0) };
        response.TokenIds.AddRange(json.Ids("tokens", "sglang") ?? throw JsonRead.Malformed("sglang", "/v1/tokenize answered no 'tokens'"));
        return response;
    }

    public override async Task<string> DetokenizeAsync(IReadOnlyList<int> tokenIds, string model, CancellationToken cancellationToken)
    {
        var json = await PostJsonAsync("v1/detokenize", new JsonObject { ["model"] = model, ["tokens"] = Ids(tokenIds) }, cancellationToken).ConfigureAwait(false);
        return json.Str("text", "sglang") ?? throw JsonRead.Malformed("sglang", "/v1/detokenize answered no 'text'");
    }

    private async Task PostJsonOrEmptyAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.PostAsync(Url(path), new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new EngineException(EngineFailureKind.Request, $"sglang answered {(int)response.StatusCode} to /{path}");
            }
        }
        catch (HttpRequestException e)
        {
            throw new EngineException(EngineFailureKind.Unavailable, $"sglang at {BaseUrl} is unreachable: {e.Message}", e);
        }
    }
}
