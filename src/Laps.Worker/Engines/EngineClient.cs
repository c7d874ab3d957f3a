using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Laps.Worker.V1;

namespace Laps.Worker.Engines;

/// <summary>
/// An engine's HTTP API as the adapter uses it: health and model, one streaming request per engine request, abort,
/// tokenize. Subclasses speak vLLM's or SGLang's dialect; this base holds the HTTP plumbing (HttpClient, SSE parsing,
/// mapping transport errors to <see cref="EngineException"/>). Thread-safe.
/// </summary>
public abstract class EngineClient : IDisposable
{
    private readonly bool _ownsHttp;

    protected EngineClient(Uri baseUrl, HttpClient? http)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        BaseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        _ownsHttp = http is null;
        Http = http ?? new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30), MaxResponseDrainSize = 0 })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public Uri BaseUrl { get; }

    /// <summary>"vllm" or "sglang".</summary>
    public abstract string EngineName { get; }

    /// <summary>The sampling fields this engine takes.</summary>
    public virtual IReadOnlyList<string> SamplingParameters => Sampling.SamplingSupport.All;

    protected HttpClient Http { get; }

    /// <summary>Health and model. Never throws for an unreachable engine: the status says not ready, and why.</summary>
    public abstract Task<EngineStatus> ProbeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Opens the engine request and yields its events until the stream ends. Cancelling the token closes the
    /// connection (vLLM aborts the request at its next step on that). Throws <see cref="EngineException"/>.
    /// </summary>
    public abstract IAsyncEnumerable<EngineChunk> GenerateAsync(EngineGeneration generation, string model, CancellationToken cancellationToken);

    /// <summary>Asks the engine to abort a request (beyond closing its stream); a no-op where closing suffices.</summary>
    public virtual Task AbortAsync(string requestId, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract Task<TokenizeResponse> TokenizeAsync(TokenizeRequest request, string model, CancellationToken cancellationToken);

    public abstract Task<string> DetokenizeAsync(IReadOnlyList<int> tokenIds, string model, CancellationToken cancellationToken);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing && _ownsHttp)
        {
            Http.Dispose();
        }
    }

    protected Uri Url(string path) => new(BaseUrl, path);

    /// <summary>POSTs <paramref name="body"/> and yields the data of each server-sent event of the response.</summary>
    protected async IAsyncEnumerable<string> PostSseAsync(string path, JsonObject body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url(path)) { Content = JsonContent.Create(body) };
        request.Headers.Accept.ParseAdd("text/event-stream");
        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new EngineException(EngineFailureKind.Unavailable, $"{EngineName} at {BaseUrl} is unreachable: {e.Message}", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var detail = await ErrorDetailAsync(response, cancellationToken).ConfigureAwait(false);
                throw new EngineException(EngineFailureKind.Request,
                    $"{EngineName} answered {(int)response.StatusCode} ({response.StatusCode}) to {path}: {detail}");
            }

            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var events = SseParser.Create(stream).EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
                await using (events.ConfigureAwait(false))
                {
                    while (true)
                    {
                        bool more;
                        try
                        {
                            more = await events.MoveNextAsync().ConfigureAwait(false);
                        }
                        catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                        {
                            throw new EngineException(EngineFailureKind.Unavailable, $"{EngineName} dropped the stream of {path}: {e.Message}", e);
                        }

                        if (!more)
                        {
                            yield break;
                        }

                        yield return events.Current.Data;
                    }
                }
            }
        }
    }

    /// <summary>POSTs JSON and returns the JSON answer; throws <see cref="EngineException"/>.</summary>
    protected async Task<JsonElement> PostJsonAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await Http.PostAsJsonAsync(Url(path), body, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new EngineException(EngineFailureKind.Unavailable, $"{EngineName} at {BaseUrl} is unreachable: {e.Message}", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var detail = await ErrorDetailAsync(response, cancellationToken).ConfigureAwait(false);
                var kind = response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed ? EngineFailureKind.Unsupported : EngineFailureKind.Request;
                throw new EngineException(kind, $"{EngineName} answered {(int)response.StatusCode} ({response.StatusCode}) to {path}: {detail}");
            }

            try
            {
                return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                throw new EngineException(EngineFailureKind.Malformed, $"{EngineName} answered {path} with malformed JSON: {e.Message}", e);
            }
        }
    }

    /// <summary>GETs <paramref name="path"/>: the status code and body, or null when the engine is unreachable.</summary>
    protected async Task<(HttpStatusCode Status, string Body)?> TryGetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(Url(path), cancellationToken).ConfigureAwait(false);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>The sampling fields both dialects share, under the names both take.</summary>
    protected static void AddCommonSampling(JsonObject target, SamplingParams? sampling)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (sampling is null)
        {
            return;
        }

        if (sampling.HasTemperature)
        {
            target["temperature"] = sampling.Temperature;
        }

        if (sampling.HasTopP)
        {
            target["top_p"] = sampling.TopP;
        }

        if (sampling.HasTopK)
        {
            target["top_k"] = sampling.TopK;
        }

        if (sampling.HasMinP)
        {
            target["min_p"] = sampling.MinP;
        }

        if (sampling.HasPresencePenalty)
        {
            target["presence_penalty"] = sampling.PresencePenalty;
        }

        if (sampling.HasFrequencyPenalty)
        {
            target["frequency_penalty"] = sampling.FrequencyPenalty;
        }

        if (sampling.HasRepetitionPenalty)
        {
            target["repetition_penalty"] = sampling.RepetitionPenalty;
        }

        if (sampling.Stop.Count > 0)
        {
            target["stop"] = new JsonArray([.. sampling.Stop.Select(s => (JsonNode)s)]);
        }

        if (sampling.StopTokenIds.Count > 0)
        {
            target["stop_token_ids"] = new JsonArray([.. sampling.StopTokenIds.Select(s => (JsonNode)s)]);
        }

        if (sampling.IgnoreEos)
        {
            target["ignore_eos"] = true;
        }
    }

    protected static JsonArray Ids(IEnumerable<int> ids) => new([.. ids.Select(i => (JsonNode)i)]);

    private static async Task<string> ErrorDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return "(no body)";
        }

        // Both engines answer {"error": {"message": ...}} or {"message": ...}, FastAPI {"detail": ...}.
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error))
                {
                    return error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) ? m.ToString() : error.ToString();
                }

                if (root.TryGetProperty("message", out var message))
                {
                    return message.ToString();
                }

                if (root.TryGetProperty("detail", out var detail))
                {
                    return detail.ToString();
                }
            }
        }
        catch (JsonException)
        {
        }

        return body.Length > 300 ? body[..300] : body;
    }
}
