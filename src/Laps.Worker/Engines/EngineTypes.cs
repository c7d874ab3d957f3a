using Laps.Worker.V1;

namespace Laps.Worker.Engines;

/// <summary>The engines a worker can drive.</summary>
public enum EngineKind
{
    Vllm,
    Sglang,
}

/// <summary>Why an engine ended a request's stream.</summary>
public enum EngineFinish
{
    None,

    /// <summary>EOS, a stop token id or a stop string.</summary>
    Stop,

    /// <summary>max_tokens reached.</summary>
    Length,

    /// <summary>The engine aborted the request (an error, or an abort the adapter asked for).</summary>
    Abort,
}

/// <summary>
/// One event of an engine's response stream, normalised: the tokens and text it adds (deltas, whatever the engine
/// sends), and what the engine reports about the request so far. Counts are the request's running totals on this
/// engine request (null: not reported in this event).
/// </summary>
public sealed record EngineChunk
{
    public static readonly EngineChunk DoneMarker = new() { Done = true };

    public IReadOnlyList<int> TokenIds { get; init; } = [];

    public string Text { get; init; } = string.Empty;

    public EngineFinish Finish { get; init; }

    /// <summary>The matched stop string or token, or the abort message.</summary>
    public string? FinishDetail { get; init; }

    public int? PromptTokens { get; init; }

    /// <summary>Tokens generated so far by this engine request.</summary>
    public int? CompletionTokens { get; init; }

    /// <summary>Prompt tokens the prefix cache served.</summary>
    public int? CachedTokens { get; init; }

    /// <summary>Verify steps (speculative decoding forward passes) of this engine request so far.</summary>
    public int? SpecVerifySteps { get; init; }

    /// <summary>Drafts accepted so far by this engine request.</summary>
    public int? SpecAcceptedDrafts { get; init; }

    /// <summary>Drafts proposed so far by this engine request.</summary>
    public int? SpecDraftTokens { get; init; }

    /// <summary>The engine reported an error for this request (an error event in the stream).</summary>
    public string? Error { get; init; }

    /// <summary>The stream's end marker ([DONE]).</summary>
    public bool Done { get; init; }
}

/// <summary>One engine request: the whole prefix as prompt ids, the tokens still to generate, how to sample.</summary>
/// <param name="RequestId">Fixed width, so an engine that aborts by id prefix (SGLang) aborts only this request.</param>
public sealed record EngineGeneration(string RequestId, int[] PromptTokenIds, int MaxTokens, SamplingParams? Sampling, int MinTokens);

/// <summary>What a probe of the engine found.</summary>
/// <param name="Ready">The engine answers its health endpoint with success.</param>
/// <param name="Model">The served model's name (null when not ready or not reported).</param>
/// <param name="MaxModelLen">The context length (0: unknown).</param>
/// <param name="Detail">Why it is not ready.</param>
public sealed record EngineStatus(bool Ready, string? Model, int MaxModelLen, string Detail)
{
    public static EngineStatus NotProbed { get; } = new(false, null, 0, "not probed yet");
}

/// <summary>How an engine request failed.</summary>
public enum EngineFailureKind
{
    /// <summary>The engine is unreachable or dropped the connection (dead, restarting, loading).</summary>
    Unavailable,

    /// <summary>The engine refused or failed this request (a 4xx/5xx, an error event): the engine itself still serves.</summary>
    Request,

    /// <summary>The engine sent something the adapter cannot parse.</summary>
    Malformed,

    /// <summary>The engine cannot do what was asked (e.g. a chat template through an API without one).</summary>
    Unsupported,
}

/// <summary>An engine request that failed; the message says what the engine did.</summary>
public sealed class EngineException : Exception
{
    public EngineException(EngineFailureKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public EngineException()
    {
    }

    public EngineException(string message)
        : base(message)
    {
    }

    public EngineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public EngineFailureKind Kind { get; }
}
