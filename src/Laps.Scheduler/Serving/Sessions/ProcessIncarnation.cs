using System.Security.Cryptography;
using Google.Protobuf;
using Laps.Worker.V1;

namespace Laps.Scheduler.Serving.Sessions;

/// <summary>
/// This scheduler process as workers know it (the protocol's <c>SchedulerIncarnation</c>, sent with every Describe, Step
/// and Release): the scheduler's name, 128 random bits drawn at start, and when it began stepping workers, fixed at its
/// first call (a standby replica calls no worker until it leads). A worker drops the sequences of an older incarnation
/// of the same name when a newer one calls, and refuses the older one's calls from then on (docs/worker-protocol.md),
/// so what a killed or deposed process left on the workers never reaches this one's requests. Thread-safe.
/// </summary>
public sealed class ProcessIncarnation
{
    private readonly TimeProvider _time;
    private readonly ByteString _id = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16));
    private long _leadingSinceUnixMs = -1;

    public ProcessIncarnation(string scheduler, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scheduler);
        ArgumentNullException.ThrowIfNull(time);
        Scheduler = scheduler;
        _time = time;
    }

    /// <summary>The scheduler's name: its incarnations fence each other.</summary>
    public string Scheduler { get; }

    /// <summary>The 128 random bits, in hex.</summary>
    public string Id => Convert.ToHexStringLower(_id.Span);

    /// <summary>The incarnation as a call carries it; the first call fixes when it began leading.</summary>
    public SchedulerIncarnation Wire()
    {
        var since = Interlocked.Read(ref _leadingSinceUnixMs);
        if (since < 0)
        {
            Interlocked.CompareExchange(ref _leadingSinceUnixMs, _time.GetUtcNow().ToUnixTimeMilliseconds(), -1);
            since = Interlocked.Read(ref _leadingSinceUnixMs);
        }

        return new SchedulerIncarnation { Scheduler = Scheduler, Incarnation = _id, LeadingSinceUnixMs = since };
    }
}
