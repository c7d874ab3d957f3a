using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;

namespace Laps.Worker;

/// <summary>
/// Everything a sim worker is configured with. Plain values; <see cref="Validate"/> runs at start and names the
/// property at fault (the CLI maps property names to its options).
/// </summary>
public sealed record SimWorkerOptions
{
    public const string ProtocolVersion = "laps.worker.v1";
    public const string EngineName = "sim";

    /// <summary>Stable for the process's life; in Kubernetes, the pod name (the host name).</summary>
    public string WorkerId { get; init; } = Environment.MachineName;

    public string LlmModel { get; init; } = "meta-llama/Llama-3.1-8B-Instruct";

    /// <summary>The draft model's name; null for the usual one of <see cref="Proposer"/>.</summary>
    public string? DraftModel { get; init; }

    public ProposerKind Proposer { get; init; } = ProposerKind.Eagle;

    /// <summary>k: tokens drafted per step.</summary>
    public int K { get; init; } = 4;

    public int MaxBatch { get; init; } = 64;

    public int MaxStepsPerCall { get; init; } = 16;

    public long KvCapacityTokens { get; init; } = 400_000;

    /// <summary>Emulated time runs this many times faster than the step-time model (1: real time; 100 in tests).</summary>
    public double TimeScale { get; init; } = 1.0;

    /// <summary>
    /// A workload spec as <c>laps sim</c> takes it: trace files whose entries are replayed when a prompt matches, and
    /// built-in profiles; the first profile (else <see cref="FallbackProfile"/>) generates unmatched sequences.
    /// </summary>
    public string Workload { get; init; } = "chat";

    /// <summary>The profile for prompts no trace entry matches, when <see cref="Workload"/> names none.</summary>
    public string FallbackProfile { get; init; } = "chat";

    /// <summary>max_tokens for a sequence that gives 0.</summary>
    public int DefaultMaxTokens { get; init; } = 16_384;

    public StepTimeModel StepTime { get; init; } = StepTimeModel.H100Llama8B;

    /// <summary>
    /// True (the protocol's model): the step that prefills a sequence also decodes it, emitting its accepted drafts + 1.
    /// False (what vLLM and SGLang do): the prefill step samples exactly one token and drafts nothing; speculation starts
    /// at the next step. The engine emulators set it false.
    /// </summary>
    public bool PrefillStepDecodes { get; init; } = true;

    /// <summary>The draft model Describe reports: <see cref="DraftModel"/>, or the usual one for the proposer.</summary>
    public string EffectiveDraftModel => DraftModel ?? Proposer switch
    {
        ProposerKind.Eagle => "yuhuili/EAGLE-LLaMA3.1-Instruct-8B",
        ProposerKind.DraftModel => "meta-llama/Llama-3.2-1B-Instruct",
        _ => "ngram",
    };

    /// <summary>"eagle", "draft" or "ngram", as the protocol spells proposers.</summary>
    public string ProposerName => ProposerNameOf(Proposer);

    public static string ProposerNameOf(ProposerKind proposer) => proposer switch
    {
        ProposerKind.Eagle => "eagle",
        ProposerKind.DraftModel => "draft",
        ProposerKind.Ngram => "ngram",
        _ => throw new ArgumentOutOfRangeException(nameof(proposer), proposer, "unknown proposer"),
    };

    /// <summary>Throws <see cref="ArgumentException"/> whose ParamName is the property at fault.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(WorkerId))
        {
            throw new ArgumentException("worker id must not be empty", nameof(WorkerId));
        }

        if (string.IsNullOrWhiteSpace(LlmModel))
        {
            throw new ArgumentException("LLM model name must not be empty", nameof(LlmModel));
        }

        if (!Enum.IsDefined(Proposer))
        {
            throw new ArgumentOutOfRangeException(nameof(Proposer), Proposer, "unknown proposer");
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

        if (!(TimeScale > 0) || !double.IsFinite(TimeScale))
        {
            throw new ArgumentOutOfRangeException(nameof(TimeScale), TimeScale, "time scale must be finite and > 0");
        }

        if (DefaultMaxTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultMaxTokens), DefaultMaxTokens, "default max tokens must be >= 1");
        }

        if (string.IsNullOrWhiteSpace(Workload))
        {
            throw new ArgumentException("workload must not be empty", nameof(Workload));
        }

        if (!WorkloadProfiles.TryGet(FallbackProfile ?? string.Empty, out _))
        {
            throw new ArgumentException(
                $"unknown profile '{FallbackProfile}'; known profiles: {string.Join(", ", WorkloadProfiles.Names)}", nameof(FallbackProfile));
        }

        ArgumentNullException.ThrowIfNull(StepTime, nameof(StepTime));
    }
}
