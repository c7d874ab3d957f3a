using Laps.Worker.Sampling;

namespace Laps.Emulation;

/// <summary>What one engine step did for one request.</summary>
public sealed record StepEmission(int[] TokenIds, string Text, int Accepted, bool Verified, EmulatedFinish Finish, string? Matched);

public enum EmulatedFinish
{
    None,
    Stop,
    Length,
    Abort,
}

/// <summary>
/// A request on the emulated engine and its output queue. The engine loop appends one <see cref="StepEmission"/> per
/// engine step; the HTTP writer takes everything pending at once, so a reader slower than the engine gets several
/// steps merged into one chunk (as vLLM's RequestOutputCollector merges, and SGLang's output list accumulates).
/// </summary>
public sealed class EmulatedRequest
{
    private readonly Lock _lock = new();
    private readonly List<StepEmission> _pending = [];
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EmulatedRequest(string id, int[] prompt, int maxTokens, ulong seed, IReadOnlyList<string> stop, IReadOnlyList<int> stopTokenIds, int minTokens)
    {
        Id = id;
        Prompt = prompt;
        MaxTokens = maxTokens;
        Seed = seed;
        Stop = new StopMatcher(stop);
        StopTokenIds = [.. stopTokenIds];
        MinTokens = minTokens;
    }

    public string Id { get; }

    /// <summary>The whole context sent (for a resumed sequence: its prompt + what it generated before).</summary>
    public int[] Prompt { get; }

    public int MaxTokens { get; }

    public ulong Seed { get; }

    public StopMatcher Stop { get; }

    public HashSet<int> StopTokenIds { get; }

    public int MinTokens { get; }

    /// <summary>Prompt tokens the prefix cache served at admission.</summary>
    public int CachedTokens { get; internal set; }

    public int Generated { get; internal set; }

    /// <summary>Verify steps run and drafts accepted/proposed so far (what the engines report per request).</summary>
    public int VerifySteps { get; internal set; }

    public int AcceptedDrafts { get; internal set; }

    public int DraftTokens { get; internal set; }

    public bool Admitted { get; internal set; }

    // The engine loop's bookkeeping (under the engine's lock).
    internal List<int> Output { get; } = [];

    internal string SimId { get; set; } = string.Empty;

    internal int OriginLength { get; set; }

    internal ulong OriginSeed { get; set; }

    internal ulong ContextHash { get; set; }

    internal bool Dropped { get; set; }

    /// <summary>max_tokens counted from the original prompt, as the sim engine counts (generated before + this request's).</summary>
    internal int OriginTotal() => Prompt.Length - OriginLength + MaxTokens;

    /// <summary>The request's whole context: prompt + output.</summary>
    internal int[] Context() => [.. Prompt, .. Output];

    public bool Aborted { get; private set; }

    public bool Completed { get; private set; }

    /// <summary>Marks the request aborted; the engine drops it at its next step.</summary>
    public void Abort()
    {
        lock (_lock)
        {
            Aborted = true;
        }
    }

    internal void Emit(StepEmission emission)
    {
        TaskCompletionSource ready;
        lock (_lock)
        {
            _pending.Add(emission);
            if (emission.Finish != EmulatedFinish.None)
            {
                Completed = true;
            }

            ready = _ready;
        }

        ready.TrySetResult();
    }

    /// <summary>Waits until something is pending (or the token fires) and takes all of it.</summary>
    public async Task<IReadOnlyList<StepEmission>> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task ready;
            lock (_lock)
            {
                if (_pending.Count > 0)
                {
                    var taken = _pending.ToArray();
                    _pending.Clear();
                    _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    return taken;
                }

                ready = _ready.Task;
            }

            await ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
