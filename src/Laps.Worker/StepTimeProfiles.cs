using Laps.Scheduling.Estimation;
using Laps.Worker.V1;

namespace Laps.Worker;

/// <summary>The protocol's linear <see cref="StepTimeProfile"/> for a <see cref="StepTimeModel"/>.</summary>
public static class StepTimeProfiles
{
    /// <summary>
    /// The model's terms for this proposer and k, in wall-clock seconds (divided by <paramref name="timeScale"/>). Draft
    /// terms count drafted tokens (batch·k): an EAGLE head's are the model's own; a draft model's are k·r times the
    /// target's fixed and KV terms and r times its per-token term; n-gram lookup is a fixed cost.
    /// </summary>
    public static StepTimeProfile Describe(StepTimeModel model, ProposerKind proposer, int k, double timeScale = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        var h = model.HardwareFactor / timeScale;
        var (fixedS, perToken, perKv) = proposer switch
        {
            ProposerKind.Eagle => (model.EagleFixedSeconds, model.EaglePerTokenSeconds, model.EaglePerKvTokenSeconds),
            ProposerKind.DraftModel => (k * model.DraftModelRatio * model.VerifyFixedSeconds, model.DraftModelRatio * model.VerifyPerTokenSeconds,
                k * model.DraftModelRatio * model.VerifyPerKvTokenSeconds),
            ProposerKind.Ngram => (model.NgramFixedSeconds, 0.0, 0.0),
            _ => throw new ArgumentOutOfRangeException(nameof(proposer), proposer, "unknown proposer"),
        };
        return new StepTimeProfile
        {
            VerifyFixedS = h * model.VerifyFixedSeconds,
            VerifyPerTokenS = h * model.VerifyPerTokenSeconds,
            VerifyPerKvTokenS = h * model.VerifyPerKvTokenSeconds,
            DraftFixedS = h * fixedS,
            DraftPerTokenS = h * perToken,
            DraftPerKvTokenS = h * perKv,
            OverheadS = model.OverheadSeconds / timeScale,
        };
    }
}
