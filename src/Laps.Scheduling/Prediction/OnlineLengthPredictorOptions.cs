namespace Laps.Scheduling.Prediction;

/// <summary>
/// Settings of <see cref="OnlineLengthPredictor"/>. The defaults are the best single-pass setting (as live, where
/// each completion is learned from once) in cross-validation on the training part of the traces (docs/predictor.md).
/// </summary>
public sealed record OnlineLengthPredictorOptions
{
    /// <summary>Predicted length before anything has been observed (tokens).</summary>
    public double PriorLength { get; init; } = 256;

    /// <summary>The hashed features share 2^HashBits weights (10..24).</summary>
    public int HashBits { get; init; } = 18;

    /// <summary>AdaGrad step size on the squared error of ln(length).</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>L2 penalty applied to the weights a completion touches (0 = none).</summary>
    public double L2 { get; init; }

    /// <summary>
    /// Also each distinct prompt token times the standardised ln(prompt length): a length slope per kind of prompt
    /// (a summary grows with its article, a chat answer hardly with its question).
    /// </summary>
    public bool LengthInteractions { get; init; } = true;

    /// <summary>
    /// A token or bigram feature counts only once this many learned-from prompts have held it (the current one
    /// included): features seen in one prompt only let the model memorise that prompt's length.
    /// </summary>
    public int MinFeaturePrompts { get; init; } = 3;

    /// <summary>Hashed bigrams of consecutive prompt tokens, besides the unigrams.</summary>
    public bool Bigrams { get; init; } = true;

    /// <summary>The last this-many prompt tokens also count as features of their own (where instructions tend to be); 0 = off.</summary>
    public int TailTokens { get; init; }

    /// <summary>
    /// Token features come from at most the first and the last <c>MaxScannedTokens / 2</c> prompt tokens, which
    /// bounds the cost of a prediction on long prompts (the length features always see the whole prompt).
    /// </summary>
    public int MaxScannedTokens { get; init; } = 2048;

    /// <summary>
    /// Predict with the average of the weights over all updates (Polyak-Ruppert averaging) rather than the last ones:
    /// steadier on small, noisy samples.
    /// </summary>
    public bool AverageWeights { get; init; }

    /// <summary>
    /// Weight of a client's <see cref="Requests.RequestState.LengthHint"/> in the log-space blend with the model,
    /// in [0, 1]: <c>exp((1 − w)·ln model + w·ln hint)</c>. 1 trusts the hint alone, 0 ignores it.
    /// </summary>
    public double HintWeight { get; init; } = 0.5;

    /// <summary>Until the model has learned from this many completions, a hint is used alone (the model knows nothing yet).</summary>
    public int HintOnlyBelowObservations { get; init; } = 32;

    internal void Validate()
    {
        if (!(PriorLength >= 1) || double.IsInfinity(PriorLength))
        {
            throw new ArgumentOutOfRangeException(nameof(PriorLength), PriorLength, "the prior length must be finite and >= 1");
        }

        if (HashBits is < 10 or > 24)
        {
            throw new ArgumentOutOfRangeException(nameof(HashBits), HashBits, "hash bits must be in 10..24");
        }

        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "the learning rate must be finite and > 0");
        }

        if (!(L2 >= 0) || double.IsInfinity(L2))
        {
            throw new ArgumentOutOfRangeException(nameof(L2), L2, "the L2 penalty must be finite and >= 0");
        }

        if (MinFeaturePrompts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MinFeaturePrompts), MinFeaturePrompts, "min feature prompts must be >= 1");
        }

        if (TailTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TailTokens), TailTokens, "tail tokens must be >= 0");
        }

        if (MaxScannedTokens < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxScannedTokens), MaxScannedTokens, "max scanned tokens must be >= 2");
        }

        if (!(HintWeight is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(HintWeight), HintWeight, "the hint weight must be in [0, 1]");
        }

        if (HintOnlyBelowObservations < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(HintOnlyBelowObservations), HintOnlyBelowObservations, "must be >= 0");
        }
    }
}
