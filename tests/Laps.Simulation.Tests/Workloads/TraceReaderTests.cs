using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Tests.Workloads;

public class TraceReaderTests
{
    private const string CompactLine =
        """{"id":"gsm8k-1","dataset":"gsm8k","prompt_tokens":5,"output_tokens":6,"acc_len_eagle":[1,3,2,1,2,1],"acc_len_ngram":[1,1,1,2,1,1],"prompt_token_ids":[1,2,3,4,5]}""";

    private const string UpstreamLine =
        """{"id": "134", "prompt_token_ids": [128000, 9125, 271], "generated_token_ids": [1, 2, 3, 4], "acc_eagle": {"acc_len": [4, 3, 2, 1]}, "acc_ngram": {"acc_len": [1, 2, 1, 1]}}""";

    [Fact]
    public void Compact_line_becomes_an_entry_with_its_dataset_as_source()
    {
        var entry = TraceReader.ParseLine(CompactLine, "t.jsonl", 1, "fallback");

        Assert.Equal("gsm8k", entry.Source);
        Assert.Equal("gsm8k-1", entry.Id);
        Assert.Equal(5, entry.PromptTokens);
        Assert.Equal([1, 3, 2, 1, 2, 1], entry.AccLenEagle);
        Assert.Equal([1, 1, 1, 2, 1, 1], entry.AccLenNgram);
        Assert.Equal([1, 2, 3, 4, 5], entry.PromptTokenIds!);
        Assert.Equal(6, entry.OutputTokens(ProposerKind.Eagle));
    }

    [Fact]
    public void Upstream_line_reads_the_nested_acc_len_arrays_and_counts_the_prompt()
    {
        var entry = TraceReader.ParseLine(UpstreamLine, "combined_gsm8k.jsonl", 1, "combined_gsm8k");

        Assert.Equal("combined_gsm8k", entry.Source);
        Assert.Equal("134", entry.Id);
        Assert.Equal(3, entry.PromptTokens);
        Assert.Equal([4, 3, 2, 1], entry.AccLen(ProposerKind.Eagle));
        Assert.Equal([1, 2, 1, 1], entry.AccLen(ProposerKind.Ngram));
    }

    [Fact]
    public void Upstream_line_keeps_its_generated_token_ids_and_compact_lines_have_none()
    {
        Assert.Equal([1, 2, 3, 4], TraceReader.ParseLine(UpstreamLine, "t.jsonl", 1, "t").GeneratedTokenIds!);
        Assert.Null(TraceReader.ParseLine(CompactLine, "t.jsonl", 1, "t").GeneratedTokenIds);
    }

    [Fact]
    public void A_file_may_mix_both_formats_and_blank_lines_and_upstream_lines_take_the_file_stem_as_source()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("mixed.jsonl", CompactLine + "\n\n   \n" + UpstreamLine + "\n");

        var entries = TraceReader.ReadFile(path);

        Assert.Equal(2, entries.Count);
        Assert.Equal("gsm8k", entries[0].Source);
        Assert.Equal("mixed", entries[1].Source);
    }

    [Fact]
    public void A_missing_proposer_falls_back_to_ones_of_the_other_proposers_length()
    {
        var compact = TraceReader.ParseLine("""{"id":"a","prompt_tokens":2,"acc_len_eagle":[3,2,1]}""", "t.jsonl", 1, "t");
        var upstream = TraceReader.ParseLine("""{"id":"b","prompt_token_ids":[1],"acc_ngram":{"acc_len":[2,1]}}""", "t.jsonl", 2, "t");

        Assert.Equal([1, 1, 1], compact.AccLenNgram);
        Assert.Equal([1, 1], upstream.AccLenEagle);
    }

    [Fact]
    public void Upstream_generic_acc_serves_both_proposers_like_the_upstream_loader()
    {
        var entry = TraceReader.ParseLine("""{"id":7,"prompt_token_ids":[1,2],"acc":{"acc_len":[2,1,5]}}""", "t.jsonl", 1, "t");

        Assert.Equal("7", entry.Id);
        Assert.Equal([2, 1, 5], entry.AccLenEagle);
        Assert.Equal([2, 1, 5], entry.AccLenNgram);
    }

    [Fact]
    public void Prompt_length_comes_from_prompt_token_ids_when_prompt_tokens_is_absent()
    {
        var entry = TraceReader.ParseLine("""{"id":"x","dataset":"d","acc_len_eagle":[1],"prompt_token_ids":[5,6,7,8]}""", "t.jsonl", 1, "t");

        Assert.Equal(4, entry.PromptTokens);
    }

    [Theory]
    [InlineData("""{"id":"a","prompt_tokens":2,"acc_len_eagle":[1,2""", "invalid JSON")]
    [InlineData("""[1,2,3]""", "expected a JSON object")]
    [InlineData("""{"id":"a","prompt_tokens":2}""", "missing field 'acc_len_eagle' or 'acc_len_ngram'")]
    [InlineData("""{"id":"a","foo":1}""", "missing acceptance fields")]
    [InlineData("""{"id":"a","acc_len_eagle":[1]}""", "missing field 'prompt_tokens'")]
    [InlineData("""{"id":"a","prompt_tokens":0,"acc_len_eagle":[1]}""", "'prompt_tokens' must be an integer >= 1")]
    [InlineData("""{"id":"a","prompt_tokens":2,"acc_len_eagle":[1,0,1]}""", "acc_len_eagle[1] = 0: values must be >= 1")]
    [InlineData("""{"id":"a","prompt_tokens":2,"acc_len_ngram":[]}""", "'acc_len_ngram' is an empty array")]
    [InlineData("""{"id":"a","prompt_tokens":2,"acc_len_eagle":[1,2.5]}""", "acc_len_eagle[1] must be an integer")]
    [InlineData("""{"id":"a","prompt_tokens":2,"acc_len_eagle":"1,2"}""", "'acc_len_eagle' must be an array")]
    [InlineData("""{"id":"a","prompt_token_ids":[1],"acc_eagle":{"len":[1]}}""", "missing field 'acc_eagle.acc_len'")]
    [InlineData("""{"id":"a","prompt_token_ids":[1],"acc_eagle":[1,2]}""", "'acc_eagle' must be an object")]
    [InlineData("""{"id":"a","acc_eagle":{"acc_len":[1]}}""", "missing field 'prompt_token_ids'")]
    [InlineData("""{"id":"a","prompt_token_ids":[],"acc_eagle":{"acc_len":[1]}}""", "'prompt_token_ids' is an empty array")]
    [InlineData("""{"id":"a","prompt_token_ids":[1],"acc_eagle":{"acc_len":[-1]}}""", "acc_eagle.acc_len[0] = -1")]
    [InlineData("""{"id":[1],"prompt_tokens":1,"acc_len_eagle":[1]}""", "'id' must be a string or a number")]
    public void A_malformed_line_names_the_file_the_line_and_the_problem(string badLine, string expected)
    {
        using var dir = new TempDirectory();
        var path = dir.Write("bad.jsonl", CompactLine + "\n\n" + badLine + "\n" + CompactLine + "\n");

        var ex = Assert.Throws<WorkloadFormatException>(() => TraceReader.ReadFile(path));

        Assert.StartsWith(path + ", line 3: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, ex.LineNumber);
        Assert.Equal(path, ex.FilePath);
        Assert.IsAssignableFrom<FormatException>(ex);
    }

    [Fact]
    public void A_missing_file_gives_one_message_naming_the_path()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "nope.jsonl");

        var ex = Assert.Throws<WorkloadFormatException>(() => TraceReader.ReadFile(path));

        Assert.Equal(path + ": workload trace file not found", ex.Message);
        Assert.Null(ex.LineNumber);
    }

    [Fact]
    public void A_file_with_only_blank_lines_is_rejected()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("empty.jsonl", "\n  \n");

        var ex = Assert.Throws<WorkloadFormatException>(() => TraceReader.ReadFile(path));

        Assert.Contains("holds no requests", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Acceptance_values_above_sixteen_are_kept_as_upstream_ngram_traces_reach_twenty_one()
    {
        var entry = TraceReader.ParseLine("""{"id":"a","prompt_token_ids":[1],"acc_ngram":{"acc_len":[21,20,19]}}""", "t.jsonl", 1, "t");

        Assert.Equal(21, entry.AccLenNgram[0]);
    }
}
