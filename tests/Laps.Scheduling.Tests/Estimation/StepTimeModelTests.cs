using Laps.Scheduling.Estimation;

namespace Laps.Scheduling.Tests.Estimation;

/// <summary>Hand calculations from docs/workloads.md (Llama-3.1-8B on an H100, EAGLE head).</summary>
public sealed class StepTimeModelTests
{
    private static readonly StepTimeModel Model = StepTimeModel.H100Llama8B;

    [Fact]
    public void One_eagle_step_at_batch_1_with_k_4_and_no_context()
    {
        // verify 5.89 ms + 21.0 µs·(1·5) = 5.995 ms; draft 2.14 ms + 0.84 µs·4 = 2.14336 ms; overhead 1.2 ms.
        Assert.Equal(9.33836e-3, Model.StepSeconds(ProposerKind.Eagle, k: 4, decodeSequences: 1, prefillTokens: 0, kvTokens: 0), 12);
    }

    [Fact]
    public void Context_adds_its_verify_and_draft_terms()
    {
        // + 0.0393 µs·1000 verify + 0.0024 µs·1000 draft = + 0.0417 ms.
        Assert.Equal(9.38006e-3, Model.StepSeconds(ProposerKind.Eagle, 4, 1, 0, kvTokens: 1000), 12);
    }

    [Fact]
    public void A_step_at_batch_1_costs_about_1_31_plain_decode_steps()
    {
        const double plainDecode = 5.89e-3 + 21.0e-6 + 1.2e-3; // one token verified, nothing drafted

        Assert.Equal(1.31, Model.StepSeconds(ProposerKind.Eagle, 4, 1, 0, 0) / plainDecode, 2);
    }

    [Fact]
    public void A_step_at_batch_128_with_1000_tokens_of_context_each_costs_about_1_92_plain_decode_steps()
    {
        const double plainDecode = 5.89e-3 + (21.0e-6 * 128) + (0.0393e-6 * 128_000) + 1.2e-3;

        Assert.Equal(1.92, Model.StepSeconds(ProposerKind.Eagle, 4, 128, 0, 128_000) / plainDecode, 2);
    }

    [Fact]
    public void A_draft_model_costs_k_sequential_passes_of_0_11_target_steps()
    {
        // draft 4 · 0.11 · (5.89 + 0.021) ms = 2.60084 ms; verify 5.995 ms; overhead 1.2 ms.
        Assert.Equal(9.79584e-3, Model.StepSeconds(ProposerKind.DraftModel, 4, 1, 0, 0), 12);
    }

    [Fact]
    public void Ngram_drafting_costs_its_fixed_cpu_time()
    {
        Assert.Equal(7.395e-3, Model.StepSeconds(ProposerKind.Ngram, 4, 1, 0, 0), 12);
    }

    [Fact]
    public void A_pure_prefill_pass_drafts_nothing()
    {
        // verify 5.89 ms + 21.0 µs·512 = 16.642 ms; overhead 1.2 ms.
        Assert.Equal(17.842e-3, Model.StepSeconds(ProposerKind.Eagle, 4, decodeSequences: 0, prefillTokens: 512, kvTokens: 0), 12);
        Assert.Equal(16.642e-3, Model.PrefillSeconds(512), 12);
    }

    [Fact]
    public void The_hardware_factor_scales_everything_but_the_cpu_overhead()
    {
        var a100 = Model with { HardwareFactor = 1.65 };

        Assert.Equal((8.13836e-3 * 1.65) + 1.2e-3, a100.StepSeconds(ProposerKind.Eagle, 4, 1, 0, 0), 12);
    }

    [Fact]
    public void An_unknown_proposer_throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Model.StepSeconds((ProposerKind)42, 4, 1, 0, 0));
    }
}
