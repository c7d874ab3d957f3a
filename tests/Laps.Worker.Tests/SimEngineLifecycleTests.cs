using Laps.Worker.Sim;
using static Laps.Worker.Tests.Builders;

namespace Laps.Worker.Tests;

public sealed class SimEngineLifecycleTests
{
    // k = 2 and one step per call: a sequence reserves prompt + generated + 3 tokens.
    private static SimEngine SmallEngine(long capacity) => Engine(Options(k: 2, kvCapacity: capacity));

    [Fact]
    public void A_held_sequence_is_not_prefilled_again()
    {
        var engine = Engine();
        engine.Step([SequenceRequest.New("s", Prompt(10))], 1);

        var second = engine.Step([SequenceRequest.Held("s")], 1).Single();

        Assert.False(second.Prefilled);
        Assert.True(engine.Holds("s"));
    }

    [Fact]
    public void Kv_in_use_counts_prompt_and_generated_tokens_of_held_sequences()
    {
        var engine = Engine();
        var a = engine.Step([SequenceRequest.New("a", Prompt(10))], 1);
        var b = engine.Step([SequenceRequest.New("b", Prompt(20, first: 3000))], 1);

        Assert.Equal(10 + a.Single().TokenIds.Count, a.KvTokensInUse);
        Assert.Equal(10 + a.Single().TokenIds.Count + 20 + b.Single().TokenIds.Count, b.KvTokensInUse);
    }

    [Fact]
    public void Eviction_takes_the_least_recently_stepped_sequence_outside_the_batch()
    {
        // a and b hold 21..26 and 21..23 tokens; c reserves 23: only evicting b makes room, whatever the acceptance.
        var engine = SmallEngine(capacity: 60);
        engine.Step([SequenceRequest.New("a", Prompt(20, first: 1000))], 1);
        engine.Step([SequenceRequest.New("b", Prompt(20, first: 2000))], 1);
        engine.Step([SequenceRequest.Held("a")], 1); // b is now the least recently stepped

        var outcome = engine.Step([SequenceRequest.New("c", Prompt(20, first: 3000))], 1);

        Assert.Equal(["b"], outcome.EvictedSequenceIds);
        Assert.True(engine.Holds("a"));
        Assert.False(engine.Holds("b"));
        Assert.True(outcome.KvTokensInUse <= 60);
    }

    [Fact]
    public void Sequences_in_the_batch_are_never_evicted()
    {
        // a (the least recently stepped) would go first, but it is in the batch.
        var engine = SmallEngine(capacity: 55);
        engine.Step([SequenceRequest.New("a", Prompt(20, first: 1000))], 1);
        engine.Step([SequenceRequest.New("b", Prompt(20, first: 2000))], 1);

        var outcome = engine.Step([SequenceRequest.Held("a"), SequenceRequest.New("c", Prompt(10, first: 3000))], 1);

        Assert.Equal(["b"], outcome.EvictedSequenceIds);
        Assert.True(engine.Holds("a"));
        Assert.True(engine.Holds("c"));
    }

    [Fact]
    public void An_evicted_sequence_without_its_prompt_is_invalid()
    {
        var engine = Engine();

        var error = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.Held("ghost")], 1));

        Assert.Equal(WorkerErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("'ghost'", error.Message, StringComparison.Ordinal);
        Assert.Contains("prompt_token_ids", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_recomputed_sequence_continues_exactly_where_it_stood()
    {
        var prompt = Prompt(30);
        var twin = RunToEnd(Engine(), SequenceRequest.New("s", prompt, seed: 5)).SelectMany(r => r.TokenIds).ToArray();
        var engine = Engine();
        var before = engine.Step([SequenceRequest.New("s", prompt, seed: 5)], 2).Single().TokenIds.ToArray();
        Assert.Equal(1, engine.Release(["s"]));

        var resumed = engine.Step([new SequenceRequest("s", prompt, before, 0, 5)], 1).Single();
        var rest = RunToEnd(engine, SequenceRequest.Held("s")).SelectMany(r => r.TokenIds);

        Assert.True(resumed.Prefilled);
        Assert.Equal(twin, before.Concat(resumed.TokenIds).Concat(rest));
    }

    [Fact]
    public void A_recompute_prefills_prompt_and_generated_tokens()
    {
        var options = Options(k: 2);
        var engine = Engine(options);

        var outcome = engine.Step([new SequenceRequest("s", TracedPrompt, [11, 12, 13], 0, 0)], 1);

        // Position 3 of acc_len [3, 2, 1, 5, ...]: e = min(5, 3) = 3 tokens, the recorded ones.
        Assert.Equal([14, 15, 16], outcome.Single().TokenIds);
        Assert.Equal(options.StepTime.StepSeconds(options.Proposer, 2, 1, prefillTokens: 6, kvTokens: 6), outcome.ModelSeconds, 12);
    }

    [Fact]
    public void A_finished_sequence_frees_its_kv_at_once()
    {
        var engine = Engine();

        var outcome = engine.Step([SequenceRequest.New("s", TracedPrompt)], 8);

        Assert.True(outcome.Single().Finished);
        Assert.False(engine.Holds("s"));
        Assert.Equal(0, outcome.KvTokensInUse);
    }

    [Fact]
    public void Release_is_idempotent_and_ignores_unknown_ids()
    {
        var engine = Engine();
        engine.Step([SequenceRequest.New("s", Prompt(10))], 1);

        Assert.Equal(1, engine.Release(["s", "unknown"]));
        Assert.Equal(0, engine.Release(["s"]));
        Assert.Equal(0, engine.KvTokensInUse);
    }

    [Fact]
    public void A_batch_over_max_batch_is_resource_exhausted()
    {
        var engine = Engine(Options(maxBatch: 2));
        SequenceRequest[] batch = [SequenceRequest.New("a", Prompt(3)), SequenceRequest.New("b", Prompt(3)), SequenceRequest.New("c", Prompt(3))];

        var error = Assert.Throws<WorkerException>(() => engine.Step(batch, 1));

        Assert.Equal(WorkerErrorKind.ResourceExhausted, error.Kind);
        Assert.Equal("batch of 3 sequences exceeds max_batch 2", error.Message);
    }

    [Fact]
    public void A_batch_whose_kv_cannot_fit_is_resource_exhausted_and_changes_nothing()
    {
        var engine = SmallEngine(capacity: 50);
        engine.Step([SequenceRequest.New("a", Prompt(10))], 1);

        var error = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("big", Prompt(48, first: 5000))], 1));

        Assert.Equal(WorkerErrorKind.ResourceExhausted, error.Kind);
        Assert.Contains("needs up to 51 KV tokens", error.Message, StringComparison.Ordinal);
        Assert.Contains("kv_capacity_tokens is 50", error.Message, StringComparison.Ordinal);
        Assert.True(engine.Holds("a"));
        Assert.False(engine.Holds("big"));
    }

    [Theory]
    [InlineData(0, "steps = 0 is out of range: must be in 1..8")]
    [InlineData(9, "steps = 9 is out of range: must be in 1..8")]
    public void Steps_out_of_range_are_invalid(int steps, string message)
    {
        var error = Assert.Throws<WorkerException>(() => Engine().Step([SequenceRequest.New("s", Prompt(3))], steps));

        Assert.Equal(WorkerErrorKind.InvalidArgument, error.Kind);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_batch_is_invalid()
    {
        var error = Assert.Throws<WorkerException>(() => Engine().Step([], 1));

        Assert.Equal(WorkerErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("batch is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_ids_are_invalid_and_change_nothing()
    {
        var engine = Engine();

        var error = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s", Prompt(3)), SequenceRequest.New("s", Prompt(3))], 1));

        Assert.Equal(WorkerErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("'s' appears twice", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, engine.HeldSequences);
    }

    [Fact]
    public void Negative_max_tokens_and_token_ids_are_invalid()
    {
        var engine = Engine();

        var maxTokens = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s", Prompt(3), maxTokens: -1)], 1));
        var tokenId = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s", [1, -5])], 1));

        Assert.Contains("max_tokens = -1", maxTokens.Message, StringComparison.Ordinal);
        Assert.Contains("prompt_token_ids[1] = -5", tokenId.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sequence_whose_prefix_already_reaches_max_tokens_finishes_without_a_step()
    {
        var engine = Engine();

        var result = engine.Step([new SequenceRequest("s", Prompt(3), [1, 2, 3], 3, 0)], 1).Single();

        Assert.Equal(SequenceFinish.Length, result.Finish);
        Assert.Empty(result.TokenIds);
        Assert.Equal(0, result.Steps);
        Assert.False(engine.Holds("s"));
    }
}
