using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Tests.Prediction;

public sealed class OnlineLengthPredictorTests
{
    [Fact]
    public void Before_any_observation_it_predicts_the_prior()
    {
        var predictor = new OnlineLengthPredictor(new OnlineLengthPredictorOptions { PriorLength = 300 });

        Assert.Equal(300, predictor.Predict(Prompt(1, [5, 6, 7, 8])), 9);
        Assert.Equal(300, predictor.Predict(new RequestState(2, 0, promptTokens: 40)), 9);
        Assert.Equal(0, predictor.Observations);
    }

    [Fact]
    public void The_default_prior_is_256_tokens()
    {
        Assert.Equal(256, new OnlineLengthPredictor().Predict(Prompt(1, [1, 2, 3])), 9);
    }

    // Synthetic relation: one "instruction" token among the prompt's filler decides the answer's length.
    [Fact]
    public void It_learns_which_prompt_tokens_decide_the_length_and_ranks_held_out_prompts()
    {
        var random = new Random(11);
        var train = Synthetic(random, 600);
        var heldOut = Synthetic(random, 300);
        var predictor = new OnlineLengthPredictor();

        var before = Tau(predictor, heldOut);
        for (var epoch = 0; epoch < 3; epoch++)
        {
            foreach (var (request, length) in train)
            {
                predictor.Observe(request, length);
            }
        }

        Assert.True(double.IsNaN(before), "an untrained model predicts one constant: τ-b is undefined");

        // The best any predictor can do is know the instruction (the noise is unpredictable): about 0.8 here. One
        // token among ~100 weighs 1/√100 in its unit-norm group, so it takes many completions to reach it.
        var ideal = IdealTau(heldOut);
        Assert.InRange(ideal, 0.75, 0.85);
        Assert.InRange(Tau(predictor, heldOut), 0.6 * ideal, 1.0);
    }

    [Fact]
    public void It_learns_within_a_single_pass_as_it_would_live()
    {
        var random = new Random(5);
        var train = Synthetic(random, 800);
        var heldOut = Synthetic(random, 300);
        var predictor = new OnlineLengthPredictor();

        foreach (var (request, length) in train)
        {
            predictor.Observe(request, length);
        }

        Assert.InRange(Tau(predictor, heldOut), 0.6 * IdealTau(heldOut), 1.0);
    }

    [Fact]
    public void It_learns_a_length_that_grows_with_the_prompt_without_token_ids()
    {
        var random = new Random(3);
        var predictor = new OnlineLengthPredictor();
        for (var i = 0; i < 2000; i++)
        {
            var prompt = random.Next(10, 3000);
            predictor.Observe(new RequestState(i, 0, prompt), prompt / 2);
        }

        var shorter = predictor.Predict(new RequestState(1, 0, 100));
        var longer = predictor.Predict(new RequestState(2, 0, 2000));

        Assert.True(longer > 3 * shorter, $"{longer} vs {shorter}");
    }

    [Fact]
    public void Two_predictors_fed_the_same_stream_predict_the_same()
    {
        var a = new OnlineLengthPredictor();
        var b = new OnlineLengthPredictor();
        foreach (var (request, length) in Synthetic(new Random(2), 200))
        {
            a.Observe(request, length);
            b.Observe(request, length);
        }

        foreach (var (request, _) in Synthetic(new Random(9), 50))
        {
            Assert.Equal(a.Predict(request), b.Predict(request));
        }
    }

    [Fact]
    public void Predicting_does_not_change_the_model()
    {
        var predictor = new OnlineLengthPredictor();
        var stream = Synthetic(new Random(4), 100);
        foreach (var (request, length) in stream)
        {
            predictor.Observe(request, length);
        }

        var probe = stream[0].Request;
        var first = predictor.Predict(probe);
        foreach (var (request, _) in stream)
        {
            predictor.Predict(request);
        }

        Assert.Equal(first, predictor.Predict(probe));
    }

    [Fact]
    public void A_token_list_that_is_not_an_array_predicts_as_the_same_array()
    {
        var predictor = new OnlineLengthPredictor();
        foreach (var (request, length) in Synthetic(new Random(6), 200))
        {
            predictor.Observe(request, length);
        }

        int[] tokens = [3, 900, 17, 17, 42, 5, 8, 1000, 12];
        var asArray = new RequestState(1, 0, tokens.Length) { PromptTokenIds = tokens };
        var asList = new RequestState(2, 0, tokens.Length) { PromptTokenIds = tokens.ToList() };

        Assert.Equal(predictor.Predict(asArray), predictor.Predict(asList));
    }

    [Fact]
    public void Long_prompts_are_scanned_at_their_head_and_tail_only()
    {
        var options = new OnlineLengthPredictorOptions { MaxScannedTokens = 8, MinFeaturePrompts = 1 };
        var predictor = new OnlineLengthPredictor(options);
        var prompt = Enumerable.Range(0, 100).ToArray();
        predictor.Observe(new RequestState(1, 0, prompt.Length) { PromptTokenIds = prompt }, 50);

        // Changing a token in the middle changes nothing; changing the last one does.
        var middle = (int[])prompt.Clone();
        middle[50] = 5000;
        var end = (int[])prompt.Clone();
        end[^1] = 5000;

        var original = predictor.Predict(new RequestState(2, 0, prompt.Length) { PromptTokenIds = prompt });
        Assert.Equal(original, predictor.Predict(new RequestState(3, 0, prompt.Length) { PromptTokenIds = middle }));
        Assert.NotEqual(original, predictor.Predict(new RequestState(4, 0, prompt.Length) { PromptTokenIds = end }));
    }

    [Fact]
    public void A_hint_is_the_prediction_while_the_model_has_seen_too_few_completions()
    {
        var predictor = new OnlineLengthPredictor(new OnlineLengthPredictorOptions { HintOnlyBelowObservations = 10 });

        Assert.Equal(700, predictor.Predict(new RequestState(1, 0, 20) { LengthHint = 700 }));
    }

    [Fact]
    public void After_warm_up_a_hint_blends_with_the_model_as_a_weighted_geometric_mean()
    {
        var options = new OnlineLengthPredictorOptions { HintOnlyBelowObservations = 5, HintWeight = 0.25 };
        var predictor = new OnlineLengthPredictor(options);
        foreach (var (request, length) in Synthetic(new Random(8), 5))
        {
            predictor.Observe(request, length);
        }

        var hinted = new RequestState(1, 0, 6) { PromptTokenIds = [1, 2, 3, 4, 5, 6], LengthHint = 1000 };
        var model = predictor.ModelPrediction(hinted);

        Assert.Equal(Math.Exp((0.75 * Math.Log(model)) + (0.25 * Math.Log(1000))), predictor.Predict(hinted), 9);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-5.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_hint_that_is_not_a_positive_finite_length_is_ignored(double hint)
    {
        var predictor = new OnlineLengthPredictor(new OnlineLengthPredictorOptions { PriorLength = 123 });

        Assert.Equal(123, predictor.Predict(new RequestState(1, 0, 20) { LengthHint = hint }), 9);
    }

    [Fact]
    public void A_hint_weight_of_zero_ignores_the_hint_after_warm_up()
    {
        var predictor = new OnlineLengthPredictor(new OnlineLengthPredictorOptions { HintOnlyBelowObservations = 0, HintWeight = 0 });

        Assert.Equal(256, predictor.Predict(new RequestState(1, 0, 20) { LengthHint = 9000 }), 9);
    }

    [Fact]
    public void Learning_ignores_the_hint()
    {
        var plain = new OnlineLengthPredictor();
        var hinted = new OnlineLengthPredictor();
        foreach (var (request, length) in Synthetic(new Random(1), 100))
        {
            plain.Observe(request, length);
            hinted.Observe(new RequestState(request.Id, 0, request.PromptTokens) { PromptTokenIds = request.PromptTokenIds, LengthHint = 5 }, length);
        }

        var probe = Prompt(1, [1, 2, 3, 200, 201]);
        Assert.Equal(plain.Predict(probe), hinted.Predict(probe));
    }

    [Fact]
    public void Wrapped_in_the_max_tokens_cap_it_never_predicts_beyond_max_tokens()
    {
        var predictor = new MaxTokensCapPredictor(new OnlineLengthPredictor(new OnlineLengthPredictorOptions { PriorLength = 500 }));

        Assert.Equal(64, predictor.Predict(new RequestState(1, 0, 10, maxTokens: 64) { PromptTokenIds = [1, 2] }));
        Assert.Equal("online+cap", predictor.Name);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnlineLengthPredictor(new OnlineLengthPredictorOptions { PriorLength = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnlineLengthPredictor(new OnlineLengthPredictorOptions { HashBits = 30 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnlineLengthPredictor(new OnlineLengthPredictorOptions { LearningRate = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnlineLengthPredictor(new OnlineLengthPredictorOptions { HintWeight = 1.5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnlineLengthPredictor(new OnlineLengthPredictorOptions { MinFeaturePrompts = 0 }));
    }

    [Fact]
    public void Existing_constructors_leave_the_prompt_ids_and_the_hint_unset()
    {
        var request = new RequestState(1, 0, 10, 20);

        Assert.Null(request.PromptTokenIds);
        Assert.Null(request.LengthHint);
    }

    private static RequestState Prompt(long id, int[] tokens) => new(id, 0, tokens.Length) { PromptTokenIds = tokens };

    /// <summary>
    /// Prompts of 20-200 filler tokens (ids 1000-30000) with one of 8 instruction tokens (ids 1-8) at a random
    /// place; instruction k asks for about 30·2^(k/2) tokens, times log-normal noise of σ 0.3.
    /// </summary>
    private static List<(RequestState Request, int Length)> Synthetic(Random random, int count)
    {
        var result = new List<(RequestState, int)>(count);
        for (var i = 0; i < count; i++)
        {
            var tokens = new int[random.Next(20, 200)];
            for (var p = 0; p < tokens.Length; p++)
            {
                tokens[p] = random.Next(1000, 30000);
            }

            var instruction = random.Next(1, 9);
            tokens[random.Next(tokens.Length)] = instruction;
            var noise = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var length = (int)Math.Max(1, Math.Round(30 * Math.Pow(2, instruction / 2.0) * Math.Exp(0.3 * noise)));
            result.Add((new RequestState(i, 0, tokens.Length) { PromptTokenIds = tokens }, length));
        }

        return result;
    }

    private static double IdealTau(List<(RequestState Request, int Length)> data)
        => KendallTau.TauB(
            data.Select(d => (double)d.Request.PromptTokenIds!.First(t => t < 1000)).ToArray(),
            data.Select(d => (double)d.Length).ToArray());

    private static double Tau(OnlineLengthPredictor predictor, List<(RequestState Request, int Length)> data)
        => KendallTau.TauB(data.Select(d => predictor.Predict(d.Request)).ToArray(), data.Select(d => (double)d.Length).ToArray());
}
