using Laps.Worker.Engines;
using Laps.Worker.Engines.Sglang;
using Laps.Worker.Engines.Vllm;
using Laps.Worker.V1;

namespace Laps.Engines.Tests;

/// <summary>The adapters' parsers and request bodies against transcripts written from the engines' sources (Fixtures/).</summary>
public sealed class ContractTests
{
    private static IReadOnlyList<string> Events(string fixture)
        => [.. File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture))
            .Where(l => l.StartsWith("data: ", StringComparison.Ordinal))
            .Select(l => l["data: ".Length..])];

    [Fact]
    public void Vllm_stream_yields_delta_ids_text_usage_cached_tokens_and_the_final_spec_metrics()
    {
        var chunks = Events("vllm-completions-stream.txt").Select(VllmStreamParser.Parse).ToList();

        Assert.Equal([9906], chunks[0].TokenIds);
        Assert.Equal(" Hello", chunks[0].Text);
        Assert.Equal(1, chunks[0].CompletionTokens);
        Assert.Equal([527, 499, 3815, 3432, 30, 358, 1097], chunks[2].TokenIds);
        Assert.Equal(EngineFinish.Length, chunks[3].Finish);
        Assert.Empty(chunks[4].TokenIds);
        Assert.Equal(0, chunks[4].CachedTokens);
        Assert.Equal(5, chunks[4].SpecVerifySteps);
        Assert.Equal(6, chunks[4].SpecAcceptedDrafts);
        Assert.Equal(20, chunks[4].SpecDraftTokens);
        Assert.True(chunks[5].Done);
        Assert.Equal(" Hello world, how are you doing today? I am", string.Concat(chunks.Select(c => c.Text)));
    }

    [Fact]
    public void Vllm_step_accounting_detects_the_merged_chunk_and_reconciles_with_the_engine_totals()
    {
        var counter = new StepCounter(k: 4);
        var deltas = Events("vllm-completions-stream.txt").Select(VllmStreamParser.Parse).Select(counter.Observe).ToList();

        Assert.Equal(new StepDelta(1, 0, 0), deltas[0]);          // the prefill step: one token, no drafts
        Assert.Equal(new StepDelta(1, 4, 2), deltas[1]);          // 3 tokens: one step, 2 drafts accepted
        Assert.Equal(new StepDelta(2, 8, 5), deltas[2]);          // 7 tokens > k + 1: merged, at least 2 steps
        Assert.True(counter.MergeDetected);
        Assert.Equal(new StepDelta(1, 4, -1), deltas[4]);         // the final metrics: one more step, one fewer accepted
        Assert.True(counter.Reconciled);
        Assert.Equal(6, deltas.Sum(d => d.Steps));
        Assert.Equal(6, deltas.Sum(d => d.Accepted));
        Assert.Equal(20, deltas.Sum(d => d.Drafted));
    }

    [Fact]
    public void Vllm_without_engine_totals_keeps_the_estimate()
    {
        var counter = new StepCounter(k: 4);
        var chunks = Events("vllm-completions-stream.txt").Select(VllmStreamParser.Parse).Where(c => c.SpecVerifySteps is null).ToList();

        var deltas = chunks.Select(counter.Observe).ToList();

        Assert.False(counter.Reconciled);
        Assert.Equal(5, deltas.Sum(d => d.Steps));
        Assert.Equal(7, deltas.Sum(d => d.Accepted));
    }

    [Fact]
    public void Vllm_error_event_is_an_error_chunk()
    {
        var chunks = Events("vllm-error-stream.txt").Select(VllmStreamParser.Parse).ToList();

        Assert.Equal([578], chunks[0].TokenIds);
        Assert.StartsWith("EngineCore encountered an issue", chunks[1].Error, StringComparison.Ordinal);
        Assert.True(chunks[2].Done);
    }

    [Theory]
    [InlineData("{\"choices\": [", "not JSON")]
    [InlineData("{\"choices\":[{\"index\":0,\"text\":\"x\",\"finish_reason\":null}]}", "return_token_ids")]
    [InlineData("{\"choices\":[{\"index\":0,\"text\":\"x\",\"token_ids\":[\"a\"]}]}", "token_ids[0]")]
    [InlineData("{\"choices\":[{\"index\":0,\"text\":\"x\",\"token_ids\":[1],\"finish_reason\":\"exploded\"}]}", "exploded")]
    public void Vllm_malformed_events_are_refused_with_what_is_wrong(string data, string expected)
    {
        var error = Assert.Throws<EngineException>(() => VllmStreamParser.Parse(data));

        Assert.Equal(EngineFailureKind.Malformed, error.Kind);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sglang_cumulative_outputs_become_deltas_with_exact_per_event_spec_counts()
    {
        var parser = new SglangStreamParser();
        var counter = new StepCounter(k: 4);
        var chunks = Events("sglang-generate-stream.txt").Select(parser.Parse).ToList();
        var deltas = chunks.Select(counter.Observe).ToList();

        Assert.Equal([9906], chunks[0].TokenIds);
        Assert.Equal([1917, 11, 1268], chunks[1].TokenIds);
        Assert.Equal(" world, how", chunks[1].Text);
        Assert.Equal([527, 499, 3815, 3432], chunks[2].TokenIds);
        Assert.Equal(EngineFinish.Length, chunks[3].Finish);
        Assert.Equal(16, chunks[0].CachedTokens);
        Assert.True(chunks[4].Done);
        Assert.Equal(new StepDelta(2, 8, 2), deltas[2]);          // two verify steps merged, counted exactly
        Assert.False(counter.MergeDetected);
        Assert.Equal(5, deltas.Sum(d => d.Steps));
        Assert.Equal(6, deltas.Sum(d => d.Accepted));
        Assert.Equal(16, deltas.Sum(d => d.Drafted));
        Assert.Equal(11, chunks.Sum(c => c.TokenIds.Count));
    }

    [Fact]
    public void Sglang_incremental_outputs_pass_through()
    {
        var parser = new SglangStreamParser();
        var first = parser.Parse("{\"text\":\" a\",\"output_ids\":[5],\"meta_info\":{\"completion_tokens\":1}}");
        var second = parser.Parse("{\"text\":\" b c\",\"output_ids\":[6,7],\"meta_info\":{\"completion_tokens\":3}}");

        Assert.Equal([5], first.TokenIds);
        Assert.Equal([6, 7], second.TokenIds);
        Assert.Equal(" b c", second.Text);
    }

    [Fact]
    public void Sglang_older_field_names_and_a_matched_stop_token_are_read()
    {
        var parser = new SglangStreamParser();
        var counter = new StepCounter(k: 4);
        var chunks = Events("sglang-generate-stream-older.txt").Select(parser.Parse).ToList();
        var deltas = chunks.Select(counter.Observe).ToList();

        Assert.Equal(3, chunks[1].SpecAcceptedDrafts);
        Assert.Equal(4, chunks[1].SpecDraftTokens);
        Assert.Equal(EngineFinish.Stop, chunks[2].Finish);
        Assert.Equal("128009", chunks[2].FinishDetail);
        Assert.Equal(3, deltas.Sum(d => d.Steps));
        Assert.Equal(3, deltas.Sum(d => d.Accepted));
    }

    [Fact]
    public void Sglang_abort_finish_and_error_event_are_reported()
    {
        var parser = new SglangStreamParser();
        var chunks = Events("sglang-error-stream.txt").Select(parser.Parse).ToList();

        Assert.Equal(EngineFinish.Abort, chunks[1].Finish);
        Assert.Equal("Abort before prefill", chunks[1].FinishDetail);
        Assert.Empty(chunks[1].TokenIds);
        Assert.Contains("disconnected", chunks[2].Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Sglang_event_without_token_ids_is_malformed()
    {
        var error = Assert.Throws<EngineException>(() => new SglangStreamParser().Parse("{\"text\":\"x\",\"meta_info\":{\"completion_tokens\":1}}"));

        Assert.Contains("output_ids", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vllm_request_sends_token_ids_usage_options_and_only_the_sampling_fields_set()
    {
        var sampling = new SamplingParams { Temperature = 0.7, Seed = 42 };
        sampling.Stop.Add("\n\n");
        var body = VllmClient.Body(new EngineGeneration("laps-x-000000000001", [1, 2, 3], 20, sampling, MinTokens: 2), "m");

        Assert.Equal("[1,2,3]", body["prompt"]!.ToJsonString());
        Assert.True((bool)body["return_token_ids"]!);
        Assert.True((bool)body["stream_options"]!["continuous_usage_stats"]!);
        Assert.Equal(20, (int)body["max_tokens"]!);
        Assert.Equal(0.7, (double)body["temperature"]!);
        Assert.Equal(42, (long)body["seed"]!);
        Assert.Equal(2, (int)body["min_tokens"]!);
        Assert.Equal("[\"\\n\\n\"]", body["stop"]!.ToJsonString());
        Assert.False(body.ContainsKey("top_p"));
    }

    [Fact]
    public void Sglang_request_sends_rid_input_ids_and_sampling_params()
    {
        var sampling = new SamplingParams { TopK = 20, Seed = 7 };
        var body = SglangClient.Body(new EngineGeneration("laps-x-000000000002", [4, 5], 9, sampling, MinTokens: 0));

        Assert.Equal("laps-x-000000000002", (string)body["rid"]!);
        Assert.Equal("[4,5]", body["input_ids"]!.ToJsonString());
        Assert.Equal(9, (int)body["sampling_params"]!["max_new_tokens"]!);
        Assert.Equal(20, (int)body["sampling_params"]!["top_k"]!);
        Assert.Equal(7, (long)body["sampling_params"]!["sampling_seed"]!);
        Assert.True((bool)body["stream"]!);
    }
}
