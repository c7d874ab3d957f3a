using Laps.Worker.V1;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Laps.Worker.Sim;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Laps.Emulation.Api;

/// <summary>
/// vLLM's OpenAI-compatible server, emulated: <c>/health</c>, <c>/v1/models</c>, <c>/v1/completions</c> (stream and
/// not; token-id or text prompts; <c>return_token_ids</c>, <c>stream_options</c> with continuous usage; the final usage
/// chunk with cached tokens and per-request speculative-decoding metrics), <c>/tokenize</c>, <c>/detokenize</c> and
/// <c>/metrics</c>, with the shapes of the vLLM files docs/engines.md cites. A closed stream aborts its request at the
/// next engine step.
/// </summary>
internal static class VllmApi
{
    public static void Map(IEndpointRouteBuilder app, EmulatedEngine engine, EmulatorFaults faults)
    {
        app.MapGet("/health", () => Results.Ok());
        app.MapGet("/v1/models", () => Results.Text(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject
            {
                ["id"] = engine.Options.ModelName,
                ["object"] = "model",
                ["created"] = ApiSupport.Now(),
                ["owned_by"] = "vllm",
                ["root"] = engine.Options.ModelName,
                ["max_model_len"] = engine.Options.MaxModelLen,
            }),
        }.ToJsonString(), "application/json"));
        app.MapPost("/v1/completions", context => Guard(context, () => CompletionsAsync(context, engine, faults)));
        app.MapPost("/tokenize", context => Guard(context, () => TokenizeAsync(context, engine)));
        app.MapPost("/detokenize", context => Guard(context, async () =>
        {
            var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
            var ids = ApiSupport.Prompt(body.Get("tokens"), "tokens");
            await ApiSupport.WriteJsonAsync(context, 200, new JsonObject { ["prompt"] = SimVocabulary.Text(ids) }).ConfigureAwait(false);
        }));
        app.MapGet("/metrics", () => Results.Text(Metrics(engine), "text/plain; version=0.0.4"));
    }

    private static Task Guard(HttpContext context, Func<Task> handler)
        => ApiSupport.GuardAsync(context, handler, e => Error(e.Message, e.Status, e.Parameter));

    private static JsonObject Error(string message, int code, string? parameter = null) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = code >= 500 ? "InternalServerError" : code == 404 ? "NotFoundError" : "BadRequestError",
            ["param"] = parameter,
            ["code"] = code,
        },
    };

    private static async Task TokenizeAsync(HttpContext context, EmulatedEngine engine)
    {
        var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
        string text;
        if (body.Get("messages") is { ValueKind: JsonValueKind.Array } messages)
        {
            text = StandInTokenizer.RenderChat(
                messages.EnumerateArray().Select(m => (m.Get("role")?.GetString() ?? string.Empty, m.Get("content")?.GetString() ?? string.Empty)),
                body.BoolOr("add_generation_prompt", true));
        }
        else
        {
            text = body.Get("prompt")?.GetString() ?? throw new EmulatorApiException(400, "'prompt' or 'messages' is required", "prompt");
        }

        var ids = StandInTokenizer.Encode(text);
        await ApiSupport.WriteJsonAsync(context, 200, new JsonObject
        {
            ["count"] = ids.Length,
            ["max_model_len"] = engine.Options.MaxModelLen,
            ["tokens"] = ApiSupport.Ids(ids),
        }).ConfigureAwait(false);
    }

    private static async Task CompletionsAsync(HttpContext context, EmulatedEngine engine, EmulatorFaults faults)
    {
        var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
        if (faults.TakeFailure() is { } status)
        {
            await ApiSupport.WriteJsonAsync(context, status, Error("emulated engine failure", status)).ConfigureAwait(false);
            return;
        }

        var options = engine.Options;
        if (body.Get("model")?.GetString() is { } model && model != options.ModelName)
        {
            throw new EmulatorApiException(404, $"The model `{model}` does not exist.", "model");
        }

        var prompt = ApiSupport.Prompt(body.Get("prompt"), "prompt");
        var maxTokens = body.IntOr("max_tokens", 16);
        if (maxTokens < 1 || prompt.Length + maxTokens > options.MaxModelLen)
        {
            throw new EmulatorApiException(400, string.Create(CultureInfo.InvariantCulture,
                $"This model's maximum context length is {options.MaxModelLen} tokens. However, you requested {prompt.Length + maxTokens} tokens ({prompt.Length} in the messages, {maxTokens} in the completion)."), "max_tokens");
        }

        if (body.IntOr("n", 1) != 1)
        {
            throw new EmulatorApiException(400, "the emulator serves n = 1 only", "n");
        }

        var id = "cmpl-" + Guid.NewGuid().ToString("N");
        var request = engine.Submit(id, prompt, maxTokens, ApiSupport.Seed(body, "seed"), ApiSupport.Stops(body), ApiSupport.StopTokenIds(body), body.IntOr("min_tokens", 0));
        var stream = body.BoolOr("stream", false);
        var returnIds = body.BoolOr("return_token_ids", false);
        if (!stream)
        {
            await RespondWholeAsync(context, engine, request, id, returnIds).ConfigureAwait(false);
            return;
        }

        var streamOptions = body.Get("stream_options");
        var includeUsage = streamOptions?.BoolOr("include_usage", false) ?? false;
        var continuousUsage = streamOptions?.BoolOr("continuous_usage_stats", false) ?? false;
        var streamFaults = faults.TakeStreamFaults();

        // vLLM: a disconnect cancels the generator, which aborts the request at the engine's next step.
        using var abandon = ApiSupport.AbandonUnlessCompleted(request, () => engine.Abort(request));
        ApiSupport.StartEvents(context.Response);
        var created = ApiSupport.Now();
        var sent = 0;
        var chunks = 0;
        var buffered = new List<StepEmission>();
        try
        {
            while (true)
            {
                buffered.AddRange(await request.TakeAsync(context.RequestAborted).ConfigureAwait(false));
                var merged = ApiSupport.Merge(buffered);
                if (merged.Finish == EmulatedFinish.None && chunks > 0 && merged.TokenIds.Length < options.StreamInterval)
                {
                    continue; // --stream-interval: batch tokens; the first and last chunks go at once
                }

                buffered.Clear();
                if (streamFaults.Malformed)
                {
                    await ApiSupport.WriteEventAsync(context.Response, "{\"id\": \"" + id + "\", \"choices\": [", context.RequestAborted).ConfigureAwait(false);
                    streamFaults = streamFaults with { Malformed = false };
                }

                if (streamFaults.ErrorEvent)
                {
                    await ApiSupport.WriteEventAsync(context.Response, Error("emulated error in the middle of the stream", 500).ToJsonString(), context.RequestAborted).ConfigureAwait(false);
                    await ApiSupport.WriteEventAsync(context.Response, "[DONE]", context.RequestAborted).ConfigureAwait(false);
                    engine.Abort(request);
                    return;
                }

                if (merged.Finish == EmulatedFinish.Abort)
                {
                    return; // aborted: the engine ends the stream
                }

                sent += merged.TokenIds.Length;
                var choice = new JsonObject
                {
                    ["index"] = 0,
                    ["text"] = merged.Text,
                    ["logprobs"] = null,
                    ["finish_reason"] = FinishReason(merged.Finish),
                    ["stop_reason"] = merged.Matched is { } m && merged.Finish == EmulatedFinish.Stop ? (JsonNode)m : null,
                };
                if (returnIds)
                {
                    if (chunks == 0)
                    {
                        choice["prompt_token_ids"] = ApiSupport.Ids(prompt);
                    }

                    choice["token_ids"] = ApiSupport.Ids(merged.TokenIds);
                }

                var chunk = new JsonObject
                {
                    ["id"] = id,
                    ["object"] = "text_completion",
                    ["created"] = created,
                    ["model"] = options.ModelName,
                    ["choices"] = new JsonArray(choice),
                };
                if (continuousUsage)
                {
                    chunk["usage"] = new JsonObject { ["prompt_tokens"] = prompt.Length, ["total_tokens"] = prompt.Length + sent, ["completion_tokens"] = sent };
                }

                await ApiSupport.WriteEventAsync(context.Response, chunk.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
                chunks++;
                if (streamFaults.ResetAfterChunks is { } reset && chunks >= reset)
                {
                    engine.Abort(request);
                    context.Abort();
                    return;
                }

                if (merged.Finish != EmulatedFinish.None)
                {
                    break;
                }
            }

            if (includeUsage)
            {
                await ApiSupport.WriteEventAsync(context.Response, FinalUsage(engine, request, id, created, prompt.Length, sent).ToJsonString(), context.RequestAborted).ConfigureAwait(false);
            }

            await ApiSupport.WriteEventAsync(context.Response, "[DONE]", context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
            engine.Abort(request);
        }
    }

    private static JsonObject FinalUsage(EmulatedEngine engine, EmulatedRequest request, string id, long created, int promptTokens, int completionTokens)
    {
        var usage = new JsonObject { ["prompt_tokens"] = promptTokens, ["total_tokens"] = promptTokens + completionTokens, ["completion_tokens"] = completionTokens };
        if (engine.Options.PromptTokensDetails)
        {
            usage["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = request.CachedTokens };
        }

        var chunk = new JsonObject
        {
            ["id"] = id,
            ["object"] = "text_completion",
            ["created"] = created,
            ["model"] = engine.Options.ModelName,
            ["choices"] = new JsonArray(),
            ["usage"] = usage,
        };
        if (engine.Options.PerRequestSpecMetrics && request.VerifySteps > 0)
        {
            var k = engine.Options.Model.K;
            chunk["metrics"] = new JsonObject
            {
                ["speculative_decoding"] = new JsonObject
                {
                    ["mean_acceptance_length"] = 1 + ((double)request.AcceptedDrafts / request.VerifySteps),
                    ["draft_acceptance_rate"] = request.DraftTokens == 0 ? 0 : (double)request.AcceptedDrafts / request.DraftTokens,
                    ["acceptance_histogram"] = new JsonArray(),
                    ["num_spec_steps"] = request.VerifySteps,
                    ["num_accepted_draft_tokens"] = request.AcceptedDrafts,
                    ["num_draft_tokens"] = request.DraftTokens,
                    ["num_spec_tokens"] = k,
                },
            };
        }

        return chunk;
    }

    private static async Task RespondWholeAsync(HttpContext context, EmulatedEngine engine, EmulatedRequest request, string id, bool returnIds)
    {
        using var abandon = ApiSupport.AbandonUnlessCompleted(request, () => engine.Abort(request));
        var all = new List<StepEmission>();
        while (all.Count == 0 || all[^1].Finish == EmulatedFinish.None)
        {
            all.AddRange(await request.TakeAsync(context.RequestAborted).ConfigureAwait(false));
        }

        var merged = ApiSupport.Merge(all);
        var choice = new JsonObject
        {
            ["index"] = 0,
            ["text"] = merged.Text,
            ["logprobs"] = null,
            ["finish_reason"] = FinishReason(merged.Finish),
            ["stop_reason"] = null,
        };
        if (returnIds)
        {
            choice["prompt_token_ids"] = ApiSupport.Ids(request.Prompt);
            choice["token_ids"] = ApiSupport.Ids(merged.TokenIds);
        }

        var response = FinalUsage(engine, request, id, ApiSupport.Now(), request.Prompt.Length, merged.TokenIds.Length);
        response["choices"] = new JsonArray(choice);
        await ApiSupport.WriteJsonAsync(context, 200, response).ConfigureAwait(false);
    }

    private static string? FinishReason(EmulatedFinish finish) => finish switch
    {
        EmulatedFinish.Stop => "stop",
        EmulatedFinish.Length => "length",
        EmulatedFinish.Abort => "abort",
        _ => null,
    };

    /// <summary>The Prometheus text of vllm/v1/metrics/loggers.py and vllm/v1/spec_decode/metrics.py's names.</summary>
    internal static string Metrics(EmulatedEngine engine)
    {
        var s = engine.Stats;
        var labels = $"{{model_name=\"{engine.Options.ModelName}\",engine=\"0\"}}";
        var text = new StringBuilder();
        Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", s.Running);
        Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", s.Waiting);
        Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", Math.Min(1.0, (double)s.KvTokens / s.KvCapacity));
        Counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", s.PrefixQueries);
        Counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", s.PrefixHits);
        Counter("vllm:prompt_tokens", "Number of prefill tokens processed.", s.PromptTokens);
        Counter("vllm:generation_tokens", "Number of generation tokens processed.", s.GenerationTokens);
        Counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", s.Drafts);
        Counter("vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", s.DraftTokens);
        Counter("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", s.AcceptedTokens);
        return text.ToString();

        void Gauge(string name, string help, double value)
            => text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name}{labels} {value}\n");

        void Counter(string name, string help, long value)
            => text.Append(CultureInfo.InvariantCulture, $"# HELP {name}_total {help}\n# TYPE {name}_total counter\n{name}_total{labels} {value}\n");
    }
}
