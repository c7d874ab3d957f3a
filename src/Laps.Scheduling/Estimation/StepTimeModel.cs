namespace Laps.Scheduling.Estimation;

public enum ProposerKind
{
    /// <summary>An EAGLE-style draft head on the target model.</summary>
    Eagle,

    /// <summary>A separate small draft model (the paper's SSM), k sequential forward passes.</summary>
    DraftModel,

    /// <summary>Prompt lookup (n-gram) drafting on the CPU: nearly free, lower acceptance.</summary>
    Ngram,
}

/// <summary>
/// Linear cost of one speculative-decoding step (k drafts, then one verification of the whole batch).
/// Defaults: Llama-3.1-8B on an H100 with an EAGLE head, fitted by the SpecDecode-Bench simulator (predictor.py).
/// </summary>
public sealed record StepTimeModel
{
    public double VerifyFixedSeconds { get; init; } = 5.89e-3;
    public double VerifyPerTokenSeconds { get; init; } = 21.0e-6;
    public double VerifyPerKvTokenSeconds { get; init; } = 0.0393e-6;
    public double EagleFixedSeconds { get; init; } = 2.14e-3;
    public double EaglePerTokenSeconds { get; init; } = 0.84e-6;
    public double EaglePerKvTokenSeconds { get; init; } = 0.0024e-6;

    /// <summary>Per drafted token, a draft model costs this fraction of a batch-1 target step (llama-160m → 7B).</summary>
    public double DraftModelRatio { get; init; } = 0.11;

    /// <summary>Prompt lookup cost per step (CPU).</summary>
    public double NgramFixedSeconds { get; init; } = 0.2e-3;

    public double OverheadSeconds { get; init; } = 1.2e-3;

    /// <summary>Scales fixed and per-token terms, e.g. 1.65 for an A100 instead of an H100.</summary>
    public double HardwareFactor { get; init; } = 1.0;

    public static StepTimeModel H100Llama8B { get; } = new();

    /// <summary>
    /// Seconds for one step. <paramref name="decodeSequences"/> sequences each verify k+1 tokens;
    /// <paramref name="prefillTokens"/> prompt (or recomputed) tokens are processed in the same pass;
    /// <paramref name="kvTokens"/> is the context held by the batch.
    /// </summary>
    public double StepSeconds(ProposerKind proposer, int k, int decodeSequences, long prefillTokens, long kvTokens)
    {
        var verify = VerifyFixedSeconds + (VerifyPerTokenSeconds * ((decodeSequences * (k + 1)) + prefillTokens))
                     + (VerifyPerKvTokenSeconds * kvTokens);
        var draft = proposer switch
        {
            ProposerKind.Eagle => EagleFixedSeconds + (EaglePerTokenSeconds * decodeSequences * k) + (EaglePerKvTokenSeconds * kvTokens),
            ProposerKind.DraftModel => k * DraftModelRatio * (VerifyFixedSeconds + (VerifyPerTokenSeconds * decodeSequences) + (VerifyPerKvTokenSeconds * kvTokens)),
            ProposerKind.Ngram => NgramFixedSeconds,
            _ => throw new ArgumentOutOfRangeException(nameof(proposer), proposer, "unknown proposer"),
        };
        if (decodeSequences == 0)
        {
            draft = 0; // a pure prefill pass drafts nothing
        }

        return HardwareFactor * (verify + draft) + OverheadSeconds;
    }

    /// <summary>Seconds of a prefill-only pass over <paramref name="tokens"/> tokens.</summary>
    public double PrefillSeconds(long tokens) => HardwareFactor * (VerifyFixedSeconds + (VerifyPerTokenSeconds * tokens));
}
