using Microsoft.Extensions.Logging;
using System.Net.Http.Json;
using Grpc.Core;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using static Laps.Engines.Tests.LoopbackTests;

namespace Laps.Engines.Tests;

/// <summary>Faults at the adapter: a dead engine, a slow start, 5xx, resets, malformed and error events, late aborts.</summary>
public sealed class FaultTests
{
    private static CallOptions Bounded => new(deadline: DateTime.UtcNow.AddSeconds(20));

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task An_engine_that_dies_mid_stream_fails_the_step_and_the_worker_is_not_ready_until_it_is_back(EngineKind engine)
    {
        await using var pair = await EnginePair.StartAsync(engine);
        var call = Bounded;
        await pair.Client.StepAsync(Step(1, New("d", Prompt(16), 1000)), call);

        await pair.KillEmulatorAsync();

        // A Step may first return what the sequence produced before the engine died; the next one fails.
        RpcException? step = null;
        for (var i = 0; step is null && i < 100; i++)
        {
            step = await Record.ExceptionAsync(() => pair.Client.StepAsync(Step(1, Held("d", 1000)), call).ResponseAsync) as RpcException;
        }

        Assert.NotNull(step);
        var describe = await Assert.ThrowsAsync<RpcException>(() => pair.Client.DescribeAsync(new DescribeRequest(), call).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, step.StatusCode);
        Assert.Contains("resend them with prompt_token_ids", step.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, pair.Adapter.HeldSequences);           // none kept: the scheduler resumes them elsewhere
        Assert.Equal(StatusCode.Unavailable, describe.StatusCode);

        await pair.StartEmulatorAsync();
        var back = await pair.Client.DescribeAsync(new DescribeRequest(), call);
        Assert.True(back.EngineReady);
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task A_worker_whose_engine_is_still_loading_is_not_ready_until_the_engine_is(EngineKind engine)
    {
        // vLLM keeps its port closed while it loads; SGLang answers /health with 503.
        await using var pair = await EnginePair.StartAsync(engine, startEmulator: engine == EngineKind.Sglang);
        if (engine == EngineKind.Sglang)
        {
            pair.Engine.Loading = true;
        }

        var loading = await Assert.ThrowsAsync<RpcException>(() => pair.Client.DescribeAsync(new DescribeRequest(), Bounded).ResponseAsync);
        var step = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(Step(1, New("early", Prompt(4), 4)), Bounded).ResponseAsync);
        if (engine == EngineKind.Sglang)
        {
            pair.Engine.Loading = false;
        }
        else
        {
            await pair.StartEmulatorAsync();
        }

        var ready = await pair.Client.DescribeAsync(new DescribeRequest(), Bounded);

        Assert.Equal(StatusCode.Unavailable, loading.StatusCode);
        Assert.Contains("not ready", loading.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unavailable, step.StatusCode);
        Assert.True(ready.EngineReady);
    }

    [Theory]
    [InlineData(EngineKind.Vllm, "5xx")]
    [InlineData(EngineKind.Sglang, "5xx")]
    [InlineData(EngineKind.Vllm, "malformed")]
    [InlineData(EngineKind.Sglang, "malformed")]
    [InlineData(EngineKind.Vllm, "error event")]
    [InlineData(EngineKind.Sglang, "error event")]
    [InlineData(EngineKind.Vllm, "reset")]
    [InlineData(EngineKind.Sglang, "reset")]
    public async Task A_bad_answer_fails_only_its_sequence_which_resumes_when_resent_while_the_worker_keeps_serving(EngineKind engine, string fault)
    {
        await using var pair = await EnginePair.StartAsync(engine);
        var call = Bounded;
        switch (fault)
        {
            case "5xx":
                pair.Faults.FailNext(1, 503);
                break;
            case "malformed":
                pair.Faults.MalformedNextChunk();
                break;
            case "error event":
                pair.Faults.ErrorEventNext();
                break;
            default:
                pair.Faults.ResetNextStreamAfter(1);
                break;
        }

        var prompt = Prompt(12);
        var outputs = new List<SequenceOutput>();
        do
        {
            outputs.Add(Assert.Single((await pair.Client.StepAsync(Step(1, outputs.Count == 0 ? New("f", prompt, 30) : Held("f", 30)), call)).Outputs));
        }
        while (outputs[^1].Error.Length == 0 && !outputs[^1].Finished);

        var failed = outputs[^1];
        var expected = fault switch
        {
            "5xx" => "503",
            "malformed" => "malformed",
            "error event" => "emulated error",
            _ => "still answers its health check",
        };
        Assert.Contains(expected, failed.Error, StringComparison.Ordinal);
        Assert.False(pair.Adapter.Holds("f"));

        // The scheduler resends it with what it knows; it resumes and finishes with the model's exact output.
        var known = outputs.SelectMany(o => o.TokenIds).ToArray();
        var resent = new SequenceInput { SequenceId = "f", PromptTokenIds = { prompt }, GeneratedTokenIds = { known }, MaxTokens = 30 };
        var rest = new List<SequenceOutput> { Assert.Single((await pair.Client.StepAsync(Step(1, resent), call)).Outputs) };
        if (!rest[0].Finished)
        {
            rest.AddRange(await RunToEndAsync(pair.Client, "f", 30, call));
        }

        Assert.True(rest[0].Prefilled);
        Assert.Equal(await pair.ReferenceAsync(prompt, 30), known.Concat(rest.SelectMany(o => o.TokenIds)).ToArray());
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task A_client_that_closes_its_stream_frees_the_engine_vllm_at_its_next_step_sglang_after_its_delay(EngineKind engine)
    {
        // Slow steps (time scale 0.5) so that "the next step" is a count, not a race; SGLang's delay kept short.
        await using var pair = await EnginePair.StartAsync(engine, o => o with
        {
            MaxRunning = 1,
            Model = o.Model with { TimeScale = 0.5 },
            DisconnectAbortDelay = TimeSpan.FromMilliseconds(300),
        });
        // No drain on dispose (HttpClient's default reads up to 1 MB for 2 s to reuse the connection): the socket closes.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = pair.EmulatorUrl, Timeout = TimeSpan.FromSeconds(20) };
        using var request = new HttpRequestMessage(HttpMethod.Post, engine == EngineKind.Vllm ? "v1/completions" : "generate")
        {
            Content = engine == EngineKind.Vllm
                ? JsonContent.Create(new { prompt = Prompt(16), max_tokens = 100_000, stream = true })
                : JsonContent.Create(new { input_ids = Prompt(16), sampling_params = new { max_new_tokens = 100_000 }, stream = true }),
        };
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (!((await reader.ReadLineAsync()) ?? string.Empty).StartsWith("data:", StringComparison.Ordinal))
        {
        }

        response.Dispose(); // the client goes away mid-stream
        var closedAt = pair.Engine.StepsRun;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (pair.Engine.Stats.Running > 0)
        {
            await Task.Delay(5, bound.Token); // the one bounded wait: fails the test (cancelled) if the request never leaves
        }

        if (engine == EngineKind.Vllm)
        {
            Assert.InRange(pair.Engine.StepsRun - closedAt, 0, 3);
        }
    }

    [Fact]
    public async Task An_abort_the_engine_answers_late_delays_no_step_and_its_late_output_is_ignored()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Sglang, o => o with { DisconnectAbortDelay = TimeSpan.FromHours(1) });
        var abortsAnswer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pair.Faults.HoldAborts = abortsAnswer.Task;
        var call = Bounded;
        await pair.Client.StepAsync(Step(1, New("late", Prompt(16), 1000), New("other", Prompt(16, first: 3000), 1000)), call);

        // Preempts "late": /abort_request does not answer until released, yet the step returns (within its bound).
        await pair.Client.StepAsync(Step(1, Held("other", 1000)), call);

        Assert.Equal(2, pair.Engine.Stats.Running);                         // the engine still runs it
        abortsAnswer.SetResult();
        while (pair.Engine.Stats.Running > 1)
        {
            await pair.Client.StepAsync(Step(1, Held("other", 1000)), call);
        }

        var resumed = Assert.Single((await pair.Client.StepAsync(Step(1, Held("late", 1000)), call)).Outputs);
        Assert.True(resumed.Prefilled);
    }

    [Fact]
    public async Task Sglang_abort_request_matches_by_prefix_so_the_adapter_uses_fixed_width_ids()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Sglang);
        var engine = pair.Engine;
        engine.Submit("laps-x-1", Prompt(8), 1000, 0, [], [], 0);
        engine.Submit("laps-x-10", Prompt(8, first: 50), 1000, 0, [], [], 0);

        Assert.Equal(2, engine.AbortByPrefix("laps-x-1"));
        using var http = new HttpClient { BaseAddress = pair.EmulatorUrl, Timeout = TimeSpan.FromSeconds(20) };
        var answer = await http.PostAsJsonAsync("abort_request", new { rid = "nobody" });
        Assert.True(answer.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Vllm_reports_prefix_cache_hits_in_usage_and_metrics()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm);
        using var http = new HttpClient { BaseAddress = pair.EmulatorUrl, Timeout = TimeSpan.FromSeconds(20) };
        var prompt = Prompt(40);

        await http.PostAsJsonAsync("v1/completions", new { prompt, max_tokens = 4 });
        var second = await (await http.PostAsJsonAsync("v1/completions", new { prompt, max_tokens = 4 })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var metrics = await http.GetStringAsync("metrics");

        Assert.Equal(36, second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        foreach (var name in new[]
        {
            "vllm:num_requests_running{", "vllm:num_requests_waiting{", "vllm:kv_cache_usage_perc{", "vllm:prefix_cache_queries_total{",
            "vllm:prefix_cache_hits_total{", "vllm:spec_decode_num_drafts_total{", "vllm:spec_decode_num_draft_tokens_total{",
            "vllm:spec_decode_num_accepted_tokens_total{",
        })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }

        Assert.Contains("vllm:prefix_cache_hits_total{model_name=\"meta-llama/Llama-3.1-8B-Instruct\",engine=\"0\"} 36", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sglang_exports_its_metric_names()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Sglang);
        using var http = new HttpClient { BaseAddress = pair.EmulatorUrl, Timeout = TimeSpan.FromSeconds(20) };

        var metrics = await http.GetStringAsync("metrics");

        foreach (var name in new[] { "sglang:num_running_reqs{", "sglang:num_queue_reqs{", "sglang:token_usage{", "sglang:cache_hit_rate{", "sglang:spec_accept_length{" })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_emulator_queues_requests_beyond_its_batch_cap()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm, o => o with { MaxRunning = 1 });
        var engine = pair.Engine;

        engine.Submit("q1", Prompt(8), 1000, 0, [], [], 0);
        engine.Submit("q2", Prompt(8, first: 90), 1000, 0, [], [], 0);
        var stats = engine.Stats;
        while (stats.Running == 0)
        {
            await Task.Yield();
            stats = engine.Stats;
        }

        Assert.Equal(1, stats.Running);
        Assert.Equal(1, stats.Waiting);
        engine.AbortByPrefix("q");
    }
}

/// <summary>The in-process engine + adapter pair that `laps up --engine` and benchmarks compose.</summary>
public sealed class EmulatedEngineWorkerTests
{
    [Fact]
    public async Task An_emulated_engine_worker_serves_the_protocol_with_the_models_step_time()
    {
        var options = EnginePair.DefaultEmulator(EngineKind.Sglang);
        await using var pair = await Laps.Emulation.EmulatedEngineWorker.StartAsync(options, "pod-0",
            configure: b => b.Logging.ClearProviders());
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(pair.WorkerAddress);
        var client = new SpeculativeWorker.SpeculativeWorkerClient(channel);

        var description = await client.DescribeAsync(new DescribeRequest(), deadline: DateTime.UtcNow.AddSeconds(20));
        var step = await client.StepAsync(Step(1, New("x", Prompt(8), 8)), deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal("pod-0", description.WorkerId);
        Assert.Equal("sglang", description.Engine);
        Assert.True(description.StepTime.VerifyFixedS > 0);
        Assert.True(description.ResumePrefillPerTokenS > 0);
        Assert.NotEmpty(Assert.Single(step.Outputs).TokenIds);
    }
}
