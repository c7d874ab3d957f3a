using System.Globalization;
using Laps.Worker.Sim;
using Laps.Worker.V1;

namespace Laps.Worker.Identity;

/// <summary>
/// The scheduler process a call comes from (the protocol's <c>SchedulerIncarnation</c>), or <see cref="Anonymous"/> for a
/// caller that sends none. A sequence belongs to the incarnation that created it.
/// </summary>
/// <param name="Scheduler">The scheduler's name: its incarnations fence each other.</param>
/// <param name="Id">The incarnation's 128 random bits, in hex; empty for <see cref="Anonymous"/>.</param>
/// <param name="LeadingSince">When it began stepping workers: a later incarnation supersedes an earlier one.</param>
public sealed record Incarnation(string Scheduler, string Id, DateTimeOffset LeadingSince)
{
    /// <summary>The longest scheduler name accepted.</summary>
    public const int MaxSchedulerLength = 253;

    private const int IdBytes = 16;

    /// <summary>A caller that predates incarnations: it fences nothing and is never fenced.</summary>
    public static Incarnation Anonymous { get; } = new(string.Empty, string.Empty, DateTimeOffset.UnixEpoch);

    public bool IsAnonymous => Id.Length == 0;

    /// <summary>
    /// The incarnation a message carries (none: <see cref="Anonymous"/>). Throws <see cref="WorkerException"/>
    /// (INVALID_ARGUMENT) naming the field at fault.
    /// </summary>
    public static Incarnation From(SchedulerIncarnation? wire)
    {
        if (wire is null)
        {
            return Anonymous;
        }

        if (wire.Incarnation.Length != IdBytes)
        {
            throw new WorkerException(WorkerErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                $"scheduler.incarnation has {wire.Incarnation.Length} bytes: it must be {IdBytes} (128 random bits)"));
        }

        if (string.IsNullOrWhiteSpace(wire.Scheduler) || wire.Scheduler.Length > MaxSchedulerLength)
        {
            throw new WorkerException(WorkerErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                $"scheduler.scheduler '{wire.Scheduler}' must be a name of 1..{MaxSchedulerLength} characters"));
        }

        if (wire.LeadingSinceUnixMs < 0)
        {
            throw new WorkerException(WorkerErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
                $"scheduler.leading_since_unix_ms = {wire.LeadingSinceUnixMs} must be >= 0"));
        }

        return new Incarnation(
            wire.Scheduler, Convert.ToHexStringLower(wire.Incarnation.Span), DateTimeOffset.FromUnixTimeMilliseconds(wire.LeadingSinceUnixMs));
    }

    /// <summary>The same process (the time it reports aside).</summary>
    public bool IsSameAs(Incarnation other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return string.Equals(Id, other.Id, StringComparison.Ordinal) && string.Equals(Scheduler, other.Scheduler, StringComparison.Ordinal);
    }

    /// <summary>Whether this incarnation supersedes <paramref name="other"/> of the same scheduler: it began leading later (ties: the larger id).</summary>
    public bool IsNewerThan(Incarnation other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var order = LeadingSince.CompareTo(other.LeadingSince);
        return order > 0 || (order == 0 && string.CompareOrdinal(Id, other.Id) > 0);
    }

    public override string ToString() => IsAnonymous
        ? "a caller without a scheduler incarnation"
        : string.Create(CultureInfo.InvariantCulture, $"scheduler '{Scheduler}' incarnation {Id} (leading since {LeadingSince:yyyy-MM-ddTHH:mm:ss.fffZ})");
}
