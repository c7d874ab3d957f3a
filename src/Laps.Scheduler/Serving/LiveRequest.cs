using System.Security.Cryptography;
using System.Threading.Channels;
using Laps.Scheduler.Serving.Sessions;
using Laps.Scheduling.Requests;

namespace Laps.Scheduler.Serving;

/// <summary>
/// One admitted request as the sidecar serves it. The HTTP handler creates it and reads <see cref="Events"/>; from
/// admission on, everything else is touched only under the <see cref="Dispatcher"/>'s lock.
/// </summary>
public sealed class LiveRequest
{
    private readonly Channel<RequestEvent> _events = Channel.CreateUnbounded<RequestEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public LiveRequest(
        long id, double arrivalTime, IReadOnlyList<int> promptTokenIds, int maxTokens, ulong seed, SamplingOptions? sampling = null,
        string tenant = Laps.Scheduling.FairShare.DefaultTenant, CancellationToken aborted = default)
    {
        Sampling = sampling;
        Id = id;
        SequenceId = NewSequenceId();
        PromptTokenIds = promptTokenIds;
        PromptHash = Laps.Worker.V1.PromptHash.Of(promptTokenIds);
        MaxTokens = maxTokens;
        Seed = seed;
        Aborted = aborted;
        State = new RequestState(id, arrivalTime, promptTokenIds.Count, maxTokens) { PromptTokenIds = promptTokenIds, Tenant = tenant };
    }

    /// <summary>The request's number in this process (its completion id and the core's <see cref="RequestState.Id"/>).</summary>
    public long Id { get; }

    /// <summary>
    /// The id the workers know this request's sequence by: 96 random bits, so no other scheduler process (a restarted
    /// one, another replica) and no client can name it.
    /// </summary>
    public string SequenceId { get; }

    public IReadOnlyList<int> PromptTokenIds { get; }

    /// <summary>The prompt's hash as the worker protocol computes it: every step sends it, so a worker never continues another prompt under this id.</summary>
    public ulong PromptHash { get; }

    public int MaxTokens { get; }
    public ulong Seed { get; }

    /// <summary>How to sample its tokens (passed through to the worker); null: the engine's defaults.</summary>
    public SamplingOptions? Sampling { get; }

    /// <summary>The client went away: wherever the request is (queued, in a step, changing workers), it is dropped.</summary>
    public CancellationToken Aborted { get; }

    /// <summary>Who sent it: its API key's tenant, the <c>X-Laps-Tenant</c> header's, or <c>default</c>.</summary>
    public string Tenant => State.Tenant;

    /// <summary>What the scheduling core knows, including the drafted and accepted counts.</summary>
    public RequestState State { get; }

    /// <summary>Tokens as the worker emits them, then one <see cref="RequestFinished"/>; completed with an exception on failure.</summary>
    public ChannelReader<RequestEvent> Events => _events.Reader;

    internal ChannelWriter<RequestEvent> EventWriter => _events.Writer;

    // Dispatcher-owned bookkeeping.
    internal List<int> GeneratedTokenIds { get; } = [];
    internal bool EverSelected { get; set; }
    internal bool CountedPerceptible { get; set; }
    internal int ConsecutiveFailures { get; set; }

    /// <summary>The client went away (its token fired, or the host cancelled it).</summary>
    internal bool CancelRequested { get; set; }

    internal bool IsCancelled => CancelRequested || Aborted.IsCancellationRequested;

    /// <summary>The worker whose step holds the request right now; null between steps.</summary>
    internal WorkerSlot? InStepOn { get; set; }

    /// <summary>The worker that last ran it (a step on another one is a migration).</summary>
    internal WorkerSlot? LastRanOn { get; set; }

    private static string NewSequenceId() => "seq-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
}

public abstract record RequestEvent;

/// <summary>Tokens one step emitted for the request.</summary>
public sealed record TokensEmitted(string Text, int Count) : RequestEvent;

/// <summary>The request's last event.</summary>
/// <param name="FinishReason">"stop" or "length", as OpenAI spells them.</param>
public sealed record RequestFinished(string FinishReason, int PromptTokens, int CompletionTokens, long Drafted, long Accepted, int Preemptions)
    : RequestEvent;

/// <summary>The request could not be served (worker failure, shutdown); the message is safe to show the client.</summary>
public sealed class RequestFailedException(string message, string reason) : Exception(message)
{
    public string Reason { get; } = reason;
}
