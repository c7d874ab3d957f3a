using System.Threading.Channels;
using Laps.Scheduling.Requests;

namespace Laps.Scheduler.Serving;

/// <summary>
/// One admitted request as the sidecar serves it. The HTTP handler creates it and reads <see cref="Events"/>; from
/// admission on, everything else is touched only by the owning <see cref="WorkerLoop"/>'s task.
/// </summary>
public sealed class LiveRequest
{
    private readonly Channel<RequestEvent> _events = Channel.CreateUnbounded<RequestEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public LiveRequest(long id, double arrivalTime, IReadOnlyList<int> promptTokenIds, int maxTokens, ulong seed)
    {
        Id = id;
        PromptTokenIds = promptTokenIds;
        MaxTokens = maxTokens;
        Seed = seed;
        State = new RequestState(id, arrivalTime, promptTokenIds.Count, maxTokens) { PromptTokenIds = promptTokenIds };
    }

    public long Id { get; }

    /// <summary>The id the workers know this request's sequence by.</summary>
    public string SequenceId => SequenceIdFor(Id);

    internal static string SequenceIdFor(long id) => FormattableString.Invariant($"req-{id}");

    public IReadOnlyList<int> PromptTokenIds { get; }
    public int MaxTokens { get; }
    public ulong Seed { get; }

    /// <summary>What the scheduling core knows; owned by the loop.</summary>
    public RequestState State { get; }

    /// <summary>Tokens as the worker emits them, then one <see cref="RequestFinished"/>; completed with an exception on failure.</summary>
    public ChannelReader<RequestEvent> Events => _events.Reader;

    internal ChannelWriter<RequestEvent> EventWriter => _events.Writer;

    /// <summary>The loop the request was routed to (set once, before the loop sees it).</summary>
    internal WorkerLoop? Loop { get; set; }

    // Loop-owned bookkeeping.
    internal List<int> GeneratedTokenIds { get; } = [];
    internal bool Resident { get; set; }
    internal bool EverSelected { get; set; }
    internal bool CountedPerceptible { get; set; }
    internal int Drafted { get; set; }
    internal int Accepted { get; set; }
    internal int ConsecutiveFailures { get; set; }
}

public abstract record RequestEvent;

/// <summary>Tokens one step emitted for the request.</summary>
public sealed record TokensEmitted(string Text, int Count) : RequestEvent;

/// <summary>The request's last event.</summary>
/// <param name="FinishReason">"stop" or "length", as OpenAI spells them.</param>
public sealed record RequestFinished(string FinishReason, int PromptTokens, int CompletionTokens, int Drafted, int Accepted, int Preemptions)
    : RequestEvent;

/// <summary>The request could not be served (worker failure, shutdown); the message is safe to show the client.</summary>
public sealed class RequestFailedException(string message, string reason) : Exception(message)
{
    public string Reason { get; } = reason;
}
