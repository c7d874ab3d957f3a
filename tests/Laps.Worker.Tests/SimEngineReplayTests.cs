using Laps.Scheduling.Estimation;
using Laps.Simulation.Engine;
using Laps.Simulation.Workloads;
using Laps.Worker.Sim;
using static Laps.Worker.Tests.Builders;

namespace Laps.Worker.Tests;

public sealed class SimEngineReplayTests
{
    [Fact]
    public void A_traced_prompt_replays_its_acc_len_with_the_simulators_arithmetic()
    {
        // acc_len [3, 2, 1, 5, 1, 1, 4], k = 2: e = min(acc_len[p], 3) at p = 0, 3, 6; the last step is cut at the end.
        var engine = Engine(Options(k: 2));
        var results = RunToEnd(engine, SequenceRequest.New("s", TracedPrompt));

        Assert.Equal([3, 3, 1], results.Select(r => r.TokenIds.Count));
        Assert.Equal([2, 2, 2], results.Select(r => r.Accepted));
        Assert.All(results, r => Assert.Equal(2, r.Drafted));
        Assert.All(results, r => Assert.Equal(1, r.Steps));
        Assert.Equal([false, false, true], results.Select(r => r.Finished));
        Assert.Equal(SequenceFinish.Stop, results[^1].Finish);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Replay_totals_match_the_simulators_true_acceptance(int k)
    {
        var entry = TraceEntries()[0];
        var engine = Engine(Options(k: k));
        var results = RunToEnd(engine, SequenceRequest.New("s", TracedPrompt));

        var drafted = results.Sum(r => r.Drafted);
        var accepted = results.Sum(r => r.Accepted);
        var simulated = new SimulatedRequest(0, 0, 3, entry.AccLenEagle, "t");
        Assert.Equal(simulated.TrueAcceptance(k), (double)accepted / drafted, 12);
        Assert.Equal(entry.AccLenEagle.Length, results.Sum(r => r.TokenIds.Count));
    }

    [Fact]
    public void Several_steps_in_one_call_equal_the_same_steps_one_call_each()
    {
        var oneCall = Engine().Step([SequenceRequest.New("s", TracedPrompt)], 8).Single();
        var perStep = RunToEnd(Engine(), SequenceRequest.New("s", TracedPrompt));

        Assert.Equal(perStep.SelectMany(r => r.TokenIds), oneCall.TokenIds);
        Assert.Equal(perStep.Count, oneCall.Steps);
        Assert.Equal(perStep.Sum(r => r.Accepted), oneCall.Accepted);
        Assert.True(oneCall.Finished);
    }

    [Fact]
    public void The_ngram_proposer_replays_the_ngram_array()
    {
        var engine = Engine(Options(k: 4, proposer: ProposerKind.Ngram));
        var result = engine.Step([SequenceRequest.New("s", TracedPrompt)], 8).Single();

        Assert.Equal(7, result.Steps); // acc_ngram is all ones: one token per step
        Assert.Equal(0, result.Accepted);
    }

    [Fact]
    public void Recorded_tokens_of_the_trace_are_emitted_with_words_for_text()
    {
        var result = Engine().Step([SequenceRequest.New("s", TracedPrompt)], 8).Single();

        Assert.Equal([11, 12, 13, 14, 15, 16, 17], result.TokenIds);
        Assert.Equal(SimVocabulary.Text([11, 12, 13, 14, 15, 16, 17]), result.Text);
        Assert.StartsWith(" ", result.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_entry_without_recorded_tokens_emits_deterministic_pseudo_ids()
    {
        var first = Engine().Step([SequenceRequest.New("s", OtherTracedPrompt)], 8).Single();
        var second = Engine().Step([SequenceRequest.New("other-id", OtherTracedPrompt)], 8).Single();

        Assert.Equal(6, first.TokenIds.Count);
        Assert.Equal(first.TokenIds, second.TokenIds);
        Assert.All(first.TokenIds, t => Assert.InRange(t, 0, SimVocabulary.Size - 1));
    }

    [Fact]
    public void A_synthetic_sequence_replays_identically_for_the_same_seed_and_prompt()
    {
        var prompt = Prompt(40);
        var a = RunToEnd(Engine(), SequenceRequest.New("a", prompt, seed: 7));
        var b = RunToEnd(Engine(), SequenceRequest.New("b", prompt, seed: 7));

        Assert.Equal(a.SelectMany(r => r.TokenIds), b.SelectMany(r => r.TokenIds));
        Assert.Equal(a.Select(r => r.Accepted), b.Select(r => r.Accepted));
        Assert.Equal(SequenceFinish.Stop, a[^1].Finish);
    }

    [Fact]
    public void A_synthetic_sequence_depends_on_seed_and_prompt()
    {
        var baseline = Tokens(Prompt(40), seed: 7);

        Assert.NotEqual(baseline, Tokens(Prompt(40), seed: 8));
        Assert.NotEqual(baseline, Tokens(Prompt(40, first: 5000), seed: 7));

        static IEnumerable<int> Tokens(int[] prompt, ulong seed)
            => RunToEnd(Engine(), SequenceRequest.New("s", prompt, seed: seed)).SelectMany(r => r.TokenIds).ToArray();
    }

    [Fact]
    public void A_synthetic_sequence_follows_the_fallback_profiles_generator()
    {
        var prompt = Prompt(12);
        var source = new AcceptanceSource([], WorkloadProfiles.Gsm8k, ProposerKind.Eagle);
        var script = source.ScriptFor(prompt, 3);
        var options = Options(k: 4);
        var tokens = RunToEnd(new SimEngine(options, source), SequenceRequest.New("s", prompt, seed: 3)).Sum(r => r.TokenIds.Count);

        Assert.Equal(script.AccLen.Length, tokens);
        Assert.InRange(tokens, 1, WorkloadProfiles.Gsm8k.MaxOutputTokens);
        Assert.Equal("profile:gsm8k", script.Origin);
    }

    [Fact]
    public void Max_tokens_finishes_the_sequence_with_length_at_exactly_that_many_tokens()
    {
        var engine = Engine(Options(k: 2));
        var result = engine.Step([SequenceRequest.New("s", TracedPrompt, maxTokens: 4)], 8).Single();

        Assert.Equal([11, 12, 13, 14], result.TokenIds);
        Assert.Equal(SequenceFinish.Length, result.Finish);
        Assert.Equal(2, result.Steps);
    }

    [Fact]
    public void The_end_of_sequence_wins_when_it_falls_within_max_tokens()
    {
        var result = Engine().Step([SequenceRequest.New("s", TracedPrompt, maxTokens: 7)], 8).Single();

        Assert.Equal(SequenceFinish.Stop, result.Finish);
        Assert.Equal(7, result.TokenIds.Count);
    }

    [Fact]
    public void Step_time_is_the_step_time_model_with_prefill_in_the_first_step()
    {
        var options = Options(k: 2);
        var engine = Engine(options);
        var model = options.StepTime;

        var first = engine.Step([SequenceRequest.New("s", TracedPrompt)], 1);
        var second = engine.Step([SequenceRequest.Held("s")], 1);

        Assert.Equal(model.StepSeconds(ProposerKind.Eagle, 2, 1, prefillTokens: 3, kvTokens: 3), first.ModelSeconds, 12);
        Assert.Equal(model.StepSeconds(ProposerKind.Eagle, 2, 1, prefillTokens: 0, kvTokens: 6), second.ModelSeconds, 12);
        Assert.True(first.Single().Prefilled);
        Assert.False(second.Single().Prefilled);
    }

    [Fact]
    public void A_call_stops_early_when_every_sequence_has_finished()
    {
        var outcome = Engine(Options(k: 2)).Step([SequenceRequest.New("s", TracedPrompt)], 8);

        Assert.Equal(3, outcome.StepsRun);
    }
}
