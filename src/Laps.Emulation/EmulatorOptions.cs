using Laps.Worker;
using Laps.Worker.Engines;

namespace Laps.Emulation;

/// <summary>
/// An emulated engine: which API it speaks, the model it emulates (the sim engine's options: proposer, k, workload,
/// step-time model, time scale), and the engine behaviours a test double must reproduce. Defaults are each engine's.
/// </summary>
public sealed record EmulatorOptions
{
    public EngineKind Engine { get; init; } = EngineKind.Vllm;

    /// <summary>The emulated SSM/LLM pair. Its batch and KV limits are the emulator's own (below).</summary>
    public SimWorkerOptions Model { get; init; } = new();

    /// <summary>Running requests at most (vLLM --max-num-seqs, SGLang --max-running-requests); the rest wait, FCFS.</summary>
    public int MaxRunning { get; init; } = DefaultMaxRunning;

    /// <summary>vLLM's default --max-num-seqs for its OpenAI server on GPUs under 70 GiB (vllm/engine/arg_utils.py, get_batch_defaults).</summary>
    public const int DefaultMaxRunning = 256;

    /// <summary>KV block size of the prefix cache (vLLM: 16 tokens; SGLang's radix cache matches by token: 1).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Tokens the prefix cache holds (least recently used blocks are evicted past it).</summary>
    public long PrefixCacheTokens { get; init; } = 400_000;

    /// <summary>Send a chunk only every this many tokens (vLLM --stream-interval, SGLang --stream-interval); 1: every step.</summary>
    public int StreamInterval { get; init; } = 1;

    public int MaxModelLen { get; init; } = 131_072;

    /// <summary>SGLang: a closed stream aborts its request only this long after (tokenizer_manager's abort task).</summary>
    public TimeSpan DisconnectAbortDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>SGLang --incremental-streaming-output: text and output_ids as deltas instead of cumulative.</summary>
    public bool IncrementalStreamingOutput { get; init; }

    /// <summary>vLLM: per-request speculative-decoding metrics on the final usage chunk (newer releases).</summary>
    public bool PerRequestSpecMetrics { get; init; } = true;

    /// <summary>vLLM --enable-prompt-tokens-details: usage.prompt_tokens_details.cached_tokens.</summary>
    public bool PromptTokensDetails { get; init; } = true;

    public string ModelName => Model.LlmModel;

    public string EngineName => Engine == EngineKind.Vllm ? "vllm" : "sglang";

    public void Validate()
    {
        Model.Validate();
        if (MaxRunning is < 1 or > 65_536)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRunning), MaxRunning, "the batch cap must be in 1..65536");
        }

        if (BlockSize is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "the block size must be in 1..1024");
        }

        if (StreamInterval < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(StreamInterval), StreamInterval, "the stream interval must be >= 1");
        }

        if (PrefixCacheTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(PrefixCacheTokens), PrefixCacheTokens, "the prefix cache size must be >= 0");
        }
    }
}
