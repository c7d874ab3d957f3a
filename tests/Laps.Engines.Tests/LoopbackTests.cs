using System.Diagnostics.Metrics;
using Grpc.Core;
using Laps.Worker.Engines;
using Laps.Worker.V1;

namespace Laps.Engines.Tests;

/// <summary>gRPC client → adapter worker → emulated engine, on real loopback sockets, for both engines.</summary>
public sealed class LoopbackTests
{
    private static CallOptions Bounded => new(deadline: DateTime.UtcNow.AddSeconds(20));

    internal static int[] Prompt(int length, int first = 1000) => [.. Enumerable.Range(first, length)];

    internal static SequenceInput New(string id, int[] prompt, int maxTokens, SamplingParams? sampling = null)
        => new() { SequenceId = id, PromptTokenIds = { prompt }, MaxTokens = maxTokens, Sampling = sampling };

    internal static SequenceInput Held(string id, int maxTokens) => new() { SequenceId = id, MaxTokens = maxTokens };

    internal static StepRequest Step(int steps, params SequenceInput[] batch) => new() { Steps = steps, Batch = { batch } };

    /// <summary>Steps one sequence (alone) until it finishes, collecting its outputs.</summary>
    internal static async Task<List<SequenceOutput>> RunToEndAsync(SpeculativeWorker.SpeculativeWorkerClient client, string id, int maxTokens, CallOptions call)
    {
        var outputs = new List<SequenceOutput>();
        while (outputs.Count == 0 || !outputs[^1].Finished)
        {
            var response = await client.StepAsync(Step(1, Held(id, maxTokens)), call);
            outputs.Add(Assert.Single(response.Outputs));
            Assert.True(outputs.Count < 10_000, "the sequence never finished");
        }

        return outputs;
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task Describe_reports_the_engine_its_model_and_that_a_resume_recomputes_the_prefix(EngineKind engine)
    {
        await using var pair = await EnginePair.StartAsync(engine);

        var description = await pair.Client.DescribeAsync(new DescribeRequest(), Bounded);

        Assert.Equal("laps.worker.v1", description.ProtocolVersion);
        Assert.Equal(engine == EngineKind.Vllm ? "vllm" : "sglang", description.Engine);
        Assert.Equal("meta-llama/Llama-3.1-8B-Instruct", description.LlmModel);
        Assert.Equal(2, description.SpeculationLength);
        Assert.Equal(8, description.MaxBatch);
        Assert.True(description.ResumeRecomputesPrefix);
        Assert.True(description.EngineReady);
        Assert.Contains("temperature", description.SamplingParameters);
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task Each_Step_records_the_adapters_own_time_within_the_Steps_elapsed_time(EngineKind engine)
    {
        var worker = $"overhead-{engine}";
        var overheads = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineWorker.MeterName && instrument.Name == EngineWorker.StepOverheadName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "worker" && Equals(tag.Value, worker))
                {
                    lock (overheads)
                    {
                        overheads.Add(value);
                    }
                }
            }
        });
        listener.Start();
        await using var pair = await EnginePair.StartAsync(engine, worker: w => w with { WorkerId = worker });

        var elapsed = new List<double>();
        // Each Step steps the sequences still running, and a new one in place of any that finished.
        var batch = new[] { New("a0", Prompt(16), 400), New("b0", Prompt(20, 5000), 400) };
        for (var i = 0; i < 4; i++)
        {
            var response = await pair.Client.StepAsync(Step(1, batch), Bounded);
            elapsed.Add(response.ElapsedS);
            batch = [.. response.Outputs.Select(o => o.Finished ? New($"{o.SequenceId}-{i}", Prompt(16, 100 * i), 400) : Held(o.SequenceId, 400))];
        }

        lock (overheads)
        {
            Assert.Equal(4, overheads.Count);
            Assert.All(overheads.Zip(elapsed), p => Assert.InRange(p.First, 0, p.Second + 1e-3));
        }
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task A_sequence_stepped_to_its_end_gets_the_engines_output_with_consistent_step_accounting(EngineKind engine)
    {
        await using var pair = await EnginePair.StartAsync(engine);
        var prompt = Prompt(24);
        var call = Bounded;

        var first = Assert.Single((await pair.Client.StepAsync(Step(1, New("s", prompt, 40)), call)).Outputs);
        var outputs = new List<SequenceOutput> { first };
        if (!first.Finished)
        {
            outputs.AddRange(await RunToEndAsync(pair.Client, "s", 40, call));
        }

        var tokens = outputs.SelectMany(o => o.TokenIds).ToArray();
        Assert.True(first.Prefilled);
        Assert.All(outputs.Skip(1), o => Assert.False(o.Prefilled));
        Assert.Equal(await pair.ReferenceAsync(prompt, 40), tokens);
        Assert.Equal(tokens.Length, outputs.Sum(o => o.Steps) + outputs.Sum(o => o.Accepted)); // each step emits accepted + 1
        Assert.All(outputs, o => Assert.True(o.Steps >= 1 || o.Finished));
        Assert.False(pair.Adapter.Holds("s"));
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task A_preempted_sequence_is_aborted_on_the_engine_and_resumes_from_its_prefix_with_cache_hits(EngineKind engine)
    {
        await using var pair = await EnginePair.StartAsync(engine, o => o with { DisconnectAbortDelay = TimeSpan.FromHours(1) });
        var a = Prompt(40);
        var b = Prompt(40, first: 5000);
        var call = Bounded;

        var both = await pair.Client.StepAsync(Step(1, New("a", a, 1000), New("b", b, 1000)), call);
        await pair.Client.StepAsync(Step(1, Held("b", 1000)), call);  // "a" dropped from the batch: preempted
        Assert.Single(pair.Adapter.OpenRequests);
        while (pair.Engine.Stats.Running + pair.Engine.Stats.Waiting > 1)
        {
            // The engine drops the aborted request at its next step (SGLang here only through /abort_request).
            await pair.Client.StepAsync(Step(1, Held("b", 1000)), call);
        }

        var resumed = Assert.Single((await pair.Client.StepAsync(Step(1, Held("a", 1000)), call)).Outputs);
        var next = Assert.Single((await pair.Client.StepAsync(Step(1, Held("a", 1000)), call)).Outputs);

        Assert.True(resumed.Prefilled);
        Assert.False(next.Prefilled);

        // SGLang reports cached tokens on every output; vLLM on its final usage chunk, so here at Release.
        var cached = Math.Max(resumed.CachedTokens, next.CachedTokens);
        Assert.True(engine == EngineKind.Vllm || cached >= 39, $"cached {cached} of {a.Length}+ prefix tokens");
        var tokens = both.Outputs[0].TokenIds.Concat(resumed.TokenIds).Concat(next.TokenIds).ToArray();
        Assert.Equal(await pair.ReferenceAsync(a, tokens.Length), tokens); // the resume continued exactly where it stood
    }

    [Fact]
    public async Task Merged_chunks_from_a_stream_interval_are_counted_and_reconciled_with_the_engines_totals()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm, o => o with { StreamInterval = 4 });

        var outputs = new List<SequenceOutput> { Assert.Single((await pair.Client.StepAsync(Step(1, New("m", Prompt(12), 30)), Bounded)).Outputs) };
        if (!outputs[0].Finished)
        {
            outputs.AddRange(await RunToEndAsync(pair.Client, "m", 30, Bounded));
        }

        var tokens = outputs.Sum(o => o.TokenIds.Count);
        Assert.Equal(tokens, outputs.Sum(o => o.Steps) + outputs.Sum(o => o.Accepted));
        Assert.Equal(outputs.Sum(o => o.Drafted), (outputs.Sum(o => o.Steps) - 1) * 2); // k drafts per verify step
    }

    [Fact]
    public async Task A_seeded_sampled_sequence_is_pinned_rather_than_preempted()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm);
        var seeded = new SamplingParams { Seed = 5, Temperature = 0.8 };
        var call = Bounded;

        await pair.Client.StepAsync(Step(1, New("pinned", Prompt(16), 1000, seeded), New("other", Prompt(16, first: 7000), 1000)), call);
        await pair.Client.StepAsync(Step(1, Held("other", 1000)), call);

        Assert.Equal(2, pair.Adapter.OpenRequests.Count);
        var back = Assert.Single((await pair.Client.StepAsync(Step(1, Held("pinned", 1000)), call)).Outputs);
        Assert.False(back.Prefilled);
    }

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task Sampling_parameters_pass_through_and_a_stop_string_ends_the_sequence(EngineKind engine)
    {
        await using var pair = await EnginePair.StartAsync(engine);
        var prompt = Prompt(20);
        var reference = await pair.ReferenceAsync(prompt, 30);
        var stop = Laps.Worker.Sim.SimVocabulary.Text(reference[5]);
        var sampling = new SamplingParams { Temperature = 0 };
        sampling.Stop.Add(stop);

        var outputs = new List<SequenceOutput> { Assert.Single((await pair.Client.StepAsync(Step(1, New("st", prompt, 30, sampling)), Bounded)).Outputs) };
        if (!outputs[0].Finished)
        {
            outputs.AddRange(await RunToEndAsync(pair.Client, "st", 30, Bounded));
        }

        Assert.Equal(FinishReason.Stop, outputs[^1].FinishReason);
        var text = string.Concat(outputs.Select(o => o.Text));
        Assert.DoesNotContain(stop, text, StringComparison.Ordinal);
        Assert.True(outputs.Sum(o => o.TokenIds.Count) <= 6);
    }

    [Fact]
    public async Task Vllm_tokenizes_prompts_and_chat_messages_with_the_engines_tokenizer()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm);

        var prompt = await pair.Client.TokenizeAsync(new TokenizeRequest { Prompt = "Hello, world" }, Bounded);
        var chat = await pair.Client.TokenizeAsync(new TokenizeRequest { Messages = { new ChatMessage { Role = "user", Content = "Hi" } }, AddGenerationPrompt = true }, Bounded);
        var text = await pair.Client.DetokenizeAsync(new DetokenizeRequest { TokenIds = { 1, 2 } }, Bounded);

        Assert.Equal(Laps.Worker.V1.StandInTokenizer.Encode("Hello, world"), prompt.TokenIds);
        Assert.Equal(131_072, prompt.MaxModelLen);
        Assert.Equal(Laps.Worker.V1.StandInTokenizer.Encode("<|user|>\nHi\n<|assistant|>\n"), chat.TokenIds);
        Assert.Equal(Laps.Worker.Sim.SimVocabulary.Text([1, 2]), text.Text);
    }

    [Fact]
    public async Task Sglang_tokenizes_prompts_and_refuses_chat_messages_it_cannot_template()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Sglang);

        var prompt = await pair.Client.TokenizeAsync(new TokenizeRequest { Prompt = "Hello, world" }, Bounded);
        var error = await Assert.ThrowsAsync<RpcException>(() => pair.Client.TokenizeAsync(
            new TokenizeRequest { Messages = { new ChatMessage { Role = "user", Content = "Hi" } } }, Bounded).ResponseAsync);

        Assert.Equal(Laps.Worker.V1.StandInTokenizer.Encode("Hello, world"), prompt.TokenIds);
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Contains("chat template", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sampling_parameter_the_engine_lacks_is_refused_by_name()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm);
        var bad = new SamplingParams { TopP = 1.5 };

        var error = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(Step(1, New("bad", Prompt(4), 4, bad)), Bounded).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("'top_p'", error.Status.Detail, StringComparison.Ordinal);
    }
}
