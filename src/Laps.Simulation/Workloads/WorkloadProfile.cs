using System.Globalization;

namespace Laps.Simulation.Workloads;

/// <summary>A log-normal length distribution: ln(tokens) ~ N(Mu, Sigma²).</summary>
public readonly record struct LogNormalLength(double Mu, double Sigma)
{
    /// <summary>Mean of the uncapped distribution, exp(μ + σ²/2).</summary>
    public double Mean => Math.Exp(Mu + (Sigma * Sigma / 2));

    /// <summary>Median, exp(μ).</summary>
    public double Median => Math.Exp(Mu);

    /// <summary>A draw rounded to whole tokens and clamped to [min, max].</summary>
    public int Sample(Random random, int min, int max)
    {
        var value = Distributions.LogNormal(random, Mu, Sigma);
        return value >= max ? max : Math.Max(min, (int)Math.Round(value));
    }
}

/// <summary>
/// A built-in synthetic workload: log-normal prompt and output lengths and, per proposer, Beta-distributed per-request
/// acceptance, so that the product runs without any trace file. <see cref="Source"/> says where the numbers come from.
/// </summary>
public sealed record WorkloadProfile(
    string Name,
    LogNormalLength PromptTokens,
    LogNormalLength OutputTokens,
    AcceptanceProfile Eagle,
    AcceptanceProfile Ngram,
    string Source)
{
    /// <summary>Output lengths are capped here (8192: the longest ShareGPT answer in the SpecDecode-Bench traces).</summary>
    public int MaxOutputTokens { get; init; } = 8192;

    public int MaxPromptTokens { get; init; } = 16384;

    /// <summary>
    /// One synthetic request. Draws, in this order: output length, prompt length, EAGLE α and trace, n-gram α and trace
    /// (both proposers share the output length; the draft-model proposer replays the EAGLE trace).
    /// </summary>
    public WorkloadEntry Generate(Random random, string id, SyntheticAcceptanceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(random);
        var output = SampleOutputTokens(random);
        var prompt = PromptTokens.Sample(random, 1, MaxPromptTokens);
        var eagle = SyntheticAcceptance.Generate(output, Eagle, random, options);
        var ngram = SyntheticAcceptance.Generate(output, Ngram, random, options);
        return new WorkloadEntry(Name, id, prompt, eagle, ngram);
    }

    /// <summary>An output length alone (same distribution as <see cref="Generate"/>), without acceptance traces.</summary>
    public int SampleOutputTokens(Random random) => OutputTokens.Sample(random, 1, MaxOutputTokens);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("profile name must not be empty", nameof(Name));
        }

        foreach (var length in new[] { PromptTokens, OutputTokens })
        {
            if (!double.IsFinite(length.Mu) || !(length.Sigma >= 0) || !double.IsFinite(length.Sigma))
            {
                throw new ArgumentOutOfRangeException(nameof(OutputTokens), length, "log-normal mu must be finite and sigma finite and >= 0");
            }
        }

        if (MaxOutputTokens < 1 || MaxPromptTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxOutputTokens), "length caps must be >= 1");
        }

        Eagle.Validate();
        Ngram.Validate();
    }

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture,
            $"{Name}: prompt lnN({PromptTokens.Mu}, {PromptTokens.Sigma}), output lnN({OutputTokens.Mu}, {OutputTokens.Sigma}) cap {MaxOutputTokens}, eagle α {Eagle.Mean}±{Eagle.Sd}, ngram α {Ngram.Mean}±{Ngram.Sd}");
}

/// <summary>The built-in profiles, by name (case-insensitive).</summary>
/// <remarks>
/// "Measured" numbers below were fitted here to the SpecDecode-Bench traces (Llama-3.1-8B-Instruct on an H100,
/// github.com/SpecDecode-Bench/simulator, arXiv 2601.11580) and to the Azure LLM inference trace 2023 (Azure Public
/// Dataset, CC-BY 4.0); α per request is <see cref="SyntheticAcceptance.EstimateAlpha"/>. Output log-normal fits and
/// EAGLE α come with their sources in docs/workloads.md.
/// </remarks>
public static class WorkloadProfiles
{
    private const string TraceNote = "SpecDecode-Bench traces, Llama-3.1-8B-Instruct, H100";

    public static WorkloadProfile ShareGpt { get; } = new(
        "sharegpt",
        PromptTokens: new(5.22, 1.13),
        OutputTokens: new(6.18, 1.03),
        Eagle: new(0.63, 0.10),
        Ngram: new(0.22, 0.18, NoiseSd: 0.15),
        Source: "ShareGPT. Output lnN(6.18, 1.03) (mean 728, median 572, p99 7767) and EAGLE α 0.63 (sd 0.10) from docs/workloads.md; "
                + "prompt lnN(5.22, 1.13) and n-gram α 0.22 (sd 0.18) measured on the 310 ShareGPT requests of the " + TraceNote + ".");

    /// <summary>General chat: ShareGPT's numbers under the name most users look for.</summary>
    public static WorkloadProfile Chat { get; } = ShareGpt with
    {
        Name = "chat",
        Source = "Alias of 'sharegpt' (ShareGPT conversations are the standard chat benchmark, and their heavy-tailed output lengths "
                 + "are where scheduling matters). " + ShareGpt.Source,
    };

    public static WorkloadProfile Cnn { get; } = new(
        "cnn",
        PromptTokens: new(6.62, 0.47),
        OutputTokens: new(5.72, 0.37),
        Eagle: new(0.64, 0.06),
        Ngram: new(0.29, 0.12, NoiseSd: 0.15),
        Source: "CNN/DailyMail summarisation. Output lnN(5.72, 0.37) (mean 323, median 338) and EAGLE α 0.64 from docs/workloads.md; "
                + "prompt lnN(6.62, 0.47), EAGLE sd 0.06 and n-gram α 0.29 (sd 0.12) measured on the 300 CNN/DM requests of the " + TraceNote + ".");

    public static WorkloadProfile Gsm8k { get; } = new(
        "gsm8k",
        PromptTokens: new(4.52, 0.22),
        OutputTokens: new(5.06, 0.33),
        Eagle: new(0.66, 0.05),
        Ngram: new(0.15, 0.07, NoiseSd: 0.15),
        Source: "GSM8K maths word problems. Output lnN(5.06, 0.33) (mean 166, median 162) and EAGLE α 0.66 from docs/workloads.md; "
                + "prompt lnN(4.52, 0.22), EAGLE sd 0.05 and n-gram α 0.15 (sd 0.07) measured on the 300 GSM8K requests of the " + TraceNote + ".");

    public static WorkloadProfile InstructCoder { get; } = new(
        "instructcoder",
        PromptTokens: new(5.45, 0.60),
        OutputTokens: new(5.01, 0.80),
        Eagle: new(0.70, 0.08),
        Ngram: new(0.55, 0.20, NoiseSd: 0.20),
        Source: "InstructCoder code edits. Output lnN(5.01, 0.80) (mean 262, median 144) and EAGLE α 0.70 (code 0.66-0.74, sd up to 0.11) from "
                + "docs/workloads.md; n-gram α 0.55 (sd 0.20) is the top of the docs/workloads.md n-gram range, because edits copy the prompt "
                + "(upstream combined_instructcoder.jsonl shows n-gram runs of 20+ tokens); prompt lnN(5.45, 0.60) is a rough estimate "
                + "from a few upstream records (≈ 120-430 tokens), not a fit.");

    public static WorkloadProfile AzureConversation { get; } = new(
        "azure-conv",
        PromptTokens: new(6.63, 0.99),
        OutputTokens: new(5.02, 0.86),
        Eagle: ShareGpt.Eagle,
        Ngram: ShareGpt.Ngram,
        Source: "Azure LLM inference trace 2023, conversation (Azure Public Dataset, CC-BY 4.0; Splitwise, ISCA 2024). Output lnN(5.02, 0.86) "
                + "(mean 211, median 129) from docs/workloads.md; prompt lnN(6.63, 0.99) (mean 1155, median 1020) fitted to the 19,366 "
                + "requests' ContextTokens. The trace has no acceptance data: acceptance is ShareGPT's (closest measured conversational set).");

    /// <summary>Production code completion: long prompts, very short answers.</summary>
    public static WorkloadProfile Code { get; } = new(
        "code",
        PromptTokens: new(6.92, 1.45),
        OutputTokens: new(2.67, 0.76),
        Eagle: new(0.70, 0.08),
        Ngram: InstructCoder.Ngram,
        Source: "Azure LLM inference trace 2023, code (AzureLLMInferenceTrace_code.csv; Azure Public Dataset, CC-BY 4.0): prompt lnN(6.92, 1.45) "
                + "and output lnN(2.67, 0.76) fitted to the trace's first 264 requests (medians 1479 and 13 tokens, matching the medians "
                + "Splitwise reports, ≈ 1500 and 13); prompts capped at 8192 as in the trace (max 7436). Acceptance: EAGLE α 0.70 (sd 0.08) "
                + "for code from docs/workloads.md; n-gram as 'instructcoder'.")
    {
        MaxPromptTokens = 8192,
    };

    /// <summary>Reasoning-style answers: thousands of tokens with a heavy tail. An assumption, not a measurement.</summary>
    public static WorkloadProfile Reasoning { get; } = new(
        "reasoning",
        PromptTokens: Gsm8k.PromptTokens,
        OutputTokens: new(7.20, 0.90),
        Eagle: Gsm8k.Eagle,
        Ngram: Gsm8k.Ngram,
        Source: "Assumed, not measured: a reasoning model answering GSM8K-style problems. Output lnN(7.20, 0.90) (median 1340, "
                + "uncapped mean ≈ 2000, ≈ 2% capped at 8192) is a chosen stand-in for the thousands of tokens per answer that "
                + "long chain-of-thought models produce; no trace here measures it. Prompt and acceptance are GSM8K's "
                + "(see 'gsm8k'); EAGLE acceptance on long chains of thought is not measured here.");

    /// <summary>All built-in profiles, in a stable order.</summary>
    public static IReadOnlyList<WorkloadProfile> All { get; } =
        [Chat, Code, Reasoning, ShareGpt, Cnn, Gsm8k, InstructCoder, AzureConversation];

    public static IReadOnlyList<string> Names { get; } = All.Select(p => p.Name).ToArray();

    private static readonly Dictionary<string, WorkloadProfile> ByName =
        All.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    public static bool TryGet(string name, out WorkloadProfile profile)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(name.Trim(), out profile!);
    }

    /// <summary>The profile with this name; throws <see cref="WorkloadFormatException"/> listing the known ones.</summary>
    public static WorkloadProfile Get(string name)
        => TryGet(name, out var profile)
            ? profile
            : throw new WorkloadFormatException($"unknown workload profile '{name}'; known profiles: {string.Join(", ", Names)}");
}
