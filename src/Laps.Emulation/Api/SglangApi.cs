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
/// SGLang's native server, emulated: <c>/health</c> and <c>/health_generate</c> (503 while loading),
/// <c>/get_model_info</c>, <c>/get_server_info</c>, <c>/generate</c> (stream and not; cumulative text and output_ids
/// unless incremental streaming output; <c>meta_info</c> with cached tokens and the speculative counters),
/// <c>/abort_request</c> (prefix match on rid), <c>/v1/tokenize</c>, <c>/v1/detokenize</c> and <c>/metrics</c>. A
/// closed stream aborts its request only after <see cref="EmulatorOptions.DisconnectAbortDelay"/>.
/// </summary>
internal static class SglangApi
{
    public static void Map(IEndpointRouteBuilder app, EmulatedEngine engine, EmulatorFaults faults, TimeProvider time)
    {
        app.MapGet("/health", () => engine.Loading ? Results.StatusCode(503) : Results.Ok());
        app.MapGet("/health_generate", () => engine.Loading ? Results.StatusCode(503) : Results.Ok());
        app.MapGet("/get_model_info", () => Results.Text(new JsonObject
        {
            ["model_path"] = engine.Options.ModelName,
            ["tokenizer_path"] = engine.Options.ModelName,
            ["is_generation"] = true,
        }.ToJsonString(), "application/json"));
        app.MapGet("/get_server_info", () => Results.Text(new JsonObject
        {
            ["model_path"] = engine.Options.ModelName,
            ["max_running_requests"] = engine.Options.MaxRunning,
            ["context_length"] = engine.Options.MaxModelLen,
            ["speculative_algorithm"] = engine.Options.Model.Proposer == Laps.Scheduling.Estimation.ProposerKind.Ngram ? "NGRAM" : "EAGLE",
            ["speculative_num_draft_tokens"] = engine.Options.Model.K + 1,
            ["stream_interval"] = engine.Options.StreamInterval,
            ["incremental_streaming_output"] = engine.Options.IncrementalStreamingOutput,
            ["version"] = "emulated",
        }.ToJsonString(), "application/json"));
        app.MapMethods("/generate", ["POST", "PUT"], context => Guard(context, () => GenerateAsync(context, engine, faults, time)));
        app.MapPost("/abort_request", async context =>
        {
            var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
            if (faults.AbortAnswerDelay > TimeSpan.Zero)
            {
                await Task.Delay(faults.AbortAnswerDelay, time, context.RequestAborted).ConfigureAwait(false);
            }

            if (faults.HoldAborts is { } hold)
            {
                await hold.WaitAsync(context.RequestAborted).ConfigureAwait(false);
            }

            if (body.BoolOr("abort_all", false))
            {
                engine.AbortByPrefix(string.Empty);
            }
            else if (body.Get("rid")?.GetString() is { Length: > 0 } rid)
            {
                engine.AbortByPrefix(rid);
            }

            context.Response.StatusCode = 200;
        });
        app.MapPost("/v1/tokenize", context => Guard(context, async () =>
        {
            var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
            var prompt = body.Get("prompt")?.GetString() ?? throw new EmulatorApiException(400, "'prompt' must be a string", "prompt");
            var ids = StandInTokenizer.Encode(prompt);
            await ApiSupport.WriteJsonAsync(context, 200, new JsonObject
            {
                ["tokens"] = ApiSupport.Ids(ids),
                ["count"] = ids.Length,
                ["max_model_len"] = engine.Options.MaxModelLen,
            }).ConfigureAwait(false);
        }));
        app.MapPost("/v1/detokenize", context => Guard(context, async () =>
        {
            var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
            var ids = ApiSupport.Prompt(body.Get("tokens"), "tokens");
            await ApiSupport.WriteJsonAsync(context, 200, new JsonObject { ["text"] = SimVocabulary.Text(ids) }).ConfigureAwait(false);
        }));
        app.MapGet("/metrics", () => Results.Text(Metrics(engine), "text/plain; version=0.0.4"));
    }

    private static Task Guard(HttpContext context, Func<Task> handler)
        => ApiSupport.GuardAsync(context, handler, e => Error(e.Message, e.Status));

    private static JsonObject Error(string message, int code) => new()
    {
        ["object"] = "error",
        ["message"] = message,
        ["type"] = code >= 500 ? "InternalServerError" : "BadRequestError",
        ["param"] = null,
        ["code"] = code,
    };

    private static async Task GenerateAsync(HttpContext context, EmulatedEngine engine, EmulatorFaults faults, TimeProvider time)
    {
        if (engine.Loading)
        {
            throw new EmulatorApiException(503, "the server is starting");
        }

        var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
        if (faults.TakeFailure() is { } status)
        {
            await ApiSupport.WriteJsonAsync(context, status, Error("emulated engine failure", status)).ConfigureAwait(false);
            return;
        }

        var prompt = body.Get("input_ids") is { } ids ? ApiSupport.Prompt(ids, "input_ids") : ApiSupport.Prompt(body.Get("text"), "text");
        var sampling = body.Get("sampling_params") ?? default;
        var maxTokens = sampling.ValueKind == JsonValueKind.Object ? sampling.IntOr("max_new_tokens", 128) : 128;
        if (maxTokens < 1 || prompt.Length + maxTokens > engine.Options.MaxModelLen)
        {
            throw new EmulatorApiException(400, string.Create(CultureInfo.InvariantCulture,
                $"The input ({prompt.Length} tokens) plus max_new_tokens ({maxTokens}) is longer than the model's context length ({engine.Options.MaxModelLen} tokens)."));
        }

        var rid = body.Get("rid")?.GetString() ?? Guid.NewGuid().ToString("N");
        var request = sampling.ValueKind == JsonValueKind.Object
            ? engine.Submit(rid, prompt, maxTokens, ApiSupport.Seed(sampling, "sampling_seed"), ApiSupport.Stops(sampling), ApiSupport.StopTokenIds(sampling), sampling.IntOr("min_new_tokens", 0))
            : engine.Submit(rid, prompt, maxTokens, 0, [], [], 0);
        if (!body.BoolOr("stream", false))
        {
            await RespondWholeAsync(context, engine, request, time).ConfigureAwait(false);
            return;
        }

        // SGLang: the streaming response's background task aborts the request 2 s after the connection closes.
        using var abandon = ApiSupport.AbandonUnlessCompleted(request, () => _ = AbortLaterAsync(engine, request, time));
        var streamFaults = faults.TakeStreamFaults();
        ApiSupport.StartEvents(context.Response);
        var text = new StringBuilder();
        var outputIds = new List<int>();
        var chunks = 0;
        var buffered = new List<StepEmission>();
        try
        {
            while (true)
            {
                buffered.AddRange(await request.TakeAsync(context.RequestAborted).ConfigureAwait(false));
                var merged = ApiSupport.Merge(buffered);
                if (merged.Finish == EmulatedFinish.None && chunks > 0 && merged.TokenIds.Length < engine.Options.StreamInterval)
                {
                    continue;
                }

                buffered.Clear();
                if (streamFaults.Malformed)
                {
                    await ApiSupport.WriteEventAsync(context.Response, "{\"text\": \"", context.RequestAborted).ConfigureAwait(false);
                    streamFaults = streamFaults with { Malformed = false };
                }

                if (streamFaults.ErrorEvent)
                {
                    await ApiSupport.WriteEventAsync(context.Response, "{\"error\": {\"message\": \"emulated error in the middle of the stream\"}}", context.RequestAborted).ConfigureAwait(false);
                    await ApiSupport.WriteEventAsync(context.Response, "[DONE]", context.RequestAborted).ConfigureAwait(false);
                    engine.Abort(request);
                    return;
                }

                text.Append(merged.Text);
                outputIds.AddRange(merged.TokenIds);
                var incremental = engine.Options.IncrementalStreamingOutput;
                var output = new JsonObject
                {
                    ["text"] = incremental ? merged.Text : text.ToString(),
                    ["output_ids"] = ApiSupport.Ids(incremental ? merged.TokenIds : outputIds),
                    ["meta_info"] = Meta(engine, request, outputIds.Count, merged),
                };
                await ApiSupport.WriteEventAsync(context.Response, output.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
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

            await ApiSupport.WriteEventAsync(context.Response, "[DONE]", context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
    }

    private static async Task AbortLaterAsync(EmulatedEngine engine, EmulatedRequest request, TimeProvider time)
    {
        await Task.Delay(engine.Options.DisconnectAbortDelay, time).ConfigureAwait(false);
        engine.Abort(request);
    }

    private static JsonObject Meta(EmulatedEngine engine, EmulatedRequest request, int completionTokens, StepEmission last)
    {
        var meta = new JsonObject
        {
            ["id"] = request.Id,
            ["finish_reason"] = last.Finish switch
            {
                EmulatedFinish.Stop => new JsonObject { ["type"] = "stop", ["matched"] = last.Matched },
                EmulatedFinish.Length => new JsonObject { ["type"] = "length", ["length"] = completionTokens },
                EmulatedFinish.Abort => new JsonObject { ["type"] = "abort", ["message"] = "Aborted by AbortReq." },
                _ => null,
            },
            ["prompt_tokens"] = request.Prompt.Length,
            ["completion_tokens"] = completionTokens,
            ["cached_tokens"] = request.CachedTokens,
        };
        if (request.VerifySteps > 0)
        {
            var k = engine.Options.Model.K;
            meta["spec_verify_ct"] = request.VerifySteps;
            meta["spec_accept_length"] = (double)completionTokens / request.VerifySteps;
            meta["spec_accept_rate"] = request.DraftTokens == 0 ? 0 : (double)request.AcceptedDrafts / (request.VerifySteps * k);
            meta["spec_num_correct_drafts"] = request.AcceptedDrafts;
            meta["spec_num_proposed_drafts"] = request.VerifySteps * k;
        }

        return meta;
    }

    private static async Task RespondWholeAsync(HttpContext context, EmulatedEngine engine, EmulatedRequest request, TimeProvider time)
    {
        using var abandon = ApiSupport.AbandonUnlessCompleted(request, () => _ = AbortLaterAsync(engine, request, time));
        var all = new List<StepEmission>();
        while (all.Count == 0 || all[^1].Finish == EmulatedFinish.None)
        {
            all.AddRange(await request.TakeAsync(context.RequestAborted).ConfigureAwait(false));
        }

        var merged = ApiSupport.Merge(all);
        await ApiSupport.WriteJsonAsync(context, 200, new JsonObject
        {
            ["text"] = merged.Text,
            ["output_ids"] = ApiSupport.Ids(merged.TokenIds),
            ["meta_info"] = Meta(engine, request, merged.TokenIds.Length, merged),
        }).ConfigureAwait(false);
    }

    /// <summary>The Prometheus text under python/sglang/srt/metrics/collector.py's names.</summary>
    internal static string Metrics(EmulatedEngine engine)
    {
        var s = engine.Stats;
        var labels = $"{{model_name=\"{engine.Options.ModelName}\"}}";
        var text = new StringBuilder();
        Gauge("sglang:num_running_reqs", "The number of running requests.", s.Running);
        Gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.", s.Waiting);
        Gauge("sglang:num_used_tokens", "The number of used tokens.", s.KvTokens);
        Gauge("sglang:token_usage", "The token usage.", Math.Min(1.0, (double)s.KvTokens / s.KvCapacity));
        Gauge("sglang:cache_hit_rate", "The prefix cache hit rate.", s.PrefixQueries == 0 ? 0 : (double)s.PrefixHits / s.PrefixQueries);
        Gauge("sglang:spec_accept_length", "The average acceptance length of speculative decoding.", s.Drafts == 0 ? 0 : 1 + ((double)s.AcceptedTokens / s.Drafts));
        Gauge("sglang:spec_accept_rate", "The average acceptance rate of speculative decoding.", s.DraftTokens == 0 ? 0 : (double)s.AcceptedTokens / s.DraftTokens);
        return text.ToString();

        void Gauge(string name, string help, double value)
            => text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name}{labels} {value}\n");
    }
}
