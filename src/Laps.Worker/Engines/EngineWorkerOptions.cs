using Laps.Scheduling.Estimation;
using Laps.Worker.V1;

namespace Laps.Worker.Engines;

/// <summary>
/// An adapter worker's configuration: which engine, where, and what the worker reports about it. The engine's own
/// flags (speculative config, batch cap) cannot be read back from either engine's API, so proposer, k and max batch
/// are given here and must match the engine's flags (docs/engines.md lists them).
/// </summary>
public sealed record EngineWorkerOptions
{
    public EngineKind Engine { get; init; } = EngineKind.Vllm;

    public Uri EngineUrl { get; init; } = new("http://127.0.0.1:8000");

    public string WorkerId { get; init; } = Environment.MachineName;

    /// <summary>The draft model's name for Describe (null: the usual one of the proposer).</summary>
    public string? DraftModel { get; init; }

    public ProposerKind Proposer { get; init; } = ProposerKind.Eagle;

    /// <summary>k, as the engine runs it (vLLM num_speculative_tokens; SGLang speculative_num_draft_tokens − 1).</summary>
    public int K { get; init; } = 4;

    /// <summary>The engine's batch cap (vLLM --max-num-seqs, SGLang --max-running-requests).</summary>
    public int MaxBatch { get; init; } = 64;

    public int MaxStepsPerCall { get; init; } = 16;

    public long KvCapacityTokens { get; init; } = 400_000;

    /// <summary>max_tokens for a sequence that gives 0.</summary>
    public int DefaultMaxTokens { get; init; } = 16_384;

    /// <summary>
    /// The longest a Step waits for every sequence to produce its engine steps; then it returns what each produced (a
    /// sequence stuck in the engine's queue returns nothing rather than holding the others).
    /// </summary>
    public TimeSpan StepDeadline { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest an abort call (SGLang /abort_request) may take before the adapter gives up waiting on it.</summary>
    public TimeSpan AbortTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The step-time profile to report (null: zeros, and the scheduler learns from elapsed_s).</summary>
    public StepTimeProfile? StepTime { get; init; }

    /// <summary>
    /// Seconds per recomputed prefix token on a resume, for Describe (null: the profile's verify_per_token_s).
    /// </summary>
    public double? ResumePrefillPerTokenSeconds { get; init; }

    public string EngineName => Engine == EngineKind.Vllm ? "vllm" : "sglang";

    public string EffectiveDraftModel => DraftModel ?? Proposer switch
    {
        ProposerKind.Eagle => "yuhuili/EAGLE-LLaMA3.1-Instruct-8B",
        ProposerKind.DraftModel => "meta-llama/Llama-3.2-1B-Instruct",
        _ => "ngram",
    };

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(WorkerId))
        {
            throw new ArgumentException("worker id must not be empty", nameof(WorkerId));
        }

        if (!EngineUrl.IsAbsoluteUri || (EngineUrl.Scheme != Uri.UriSchemeHttp && EngineUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"engine URL '{EngineUrl}' must be an absolute http(s) URL", nameof(EngineUrl));
        }

        if (K is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(K), K, "speculation length k must be in 1..32");
        }

        if (MaxBatch is < 1 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, "max batch must be in 1..4096");
        }

        if (MaxStepsPerCall is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxStepsPerCall), MaxStepsPerCall, "max steps per call must be in 1..1024");
        }

        if (KvCapacityTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(KvCapacityTokens), KvCapacityTokens, "KV capacity must be >= 1 token");
        }

        if (StepDeadline <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(StepDeadline), StepDeadline, "the step deadline must be > 0");
        }
    }
}
