using System.Globalization;
using Laps.Worker.Sim;

namespace Laps.Worker.Identity;

/// <summary>
/// Which incarnation of each scheduler may use the worker (docs/worker-protocol.md, "Identity and fencing"). Per
/// scheduler name the worker knows one current incarnation. A call from another one takes its place when it is newer
/// (<see cref="Incarnation.IsNewerThan"/>), or when the current one has called nothing for <see cref="TakeoverAfter"/>
/// (a dead process whose clock ran ahead); the engine then drops every sequence of the one it replaced. Otherwise the
/// call is refused: a superseded process cannot take the worker back, so two live replicas never fence each other in
/// turn, and a dead one is replaced at once by its successor.
/// </summary>
/// <remarks>Not thread-safe: an engine calls it under the lock that guards its sequences, so fencing and stepping are atomic.</remarks>
public sealed class IncarnationFence(TimeProvider time)
{
    /// <summary>How long a current incarnation must be silent before an older one may replace it.</summary>
    public static readonly TimeSpan TakeoverAfter = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, (Incarnation Incarnation, DateTimeOffset LastCall)> _current = new(StringComparer.Ordinal);

    /// <summary>
    /// Admits a call from <paramref name="caller"/>. Returns the incarnation it replaced (whose sequences the caller must
    /// drop), or null. Throws <see cref="WorkerException"/> (FAILED_PRECONDITION) when a newer incarnation of its
    /// scheduler uses the worker.
    /// </summary>
    public Incarnation? Admit(Incarnation caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.IsAnonymous)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (!_current.TryGetValue(caller.Scheduler, out var current))
        {
            _current[caller.Scheduler] = (caller, now);
            return null;
        }

        if (current.Incarnation.IsSameAs(caller))
        {
            _current[caller.Scheduler] = (current.Incarnation, now);
            return null;
        }

        var silent = now - current.LastCall;
        if (!caller.IsNewerThan(current.Incarnation) && silent < TakeoverAfter)
        {
            throw new WorkerException(WorkerErrorKind.FailedPrecondition, string.Create(CultureInfo.InvariantCulture,
                $"{caller} is superseded by incarnation {current.Incarnation.Id} (leading since {current.Incarnation.LeadingSince:yyyy-MM-ddTHH:mm:ss.fffZ}, last call {silent.TotalSeconds:0.#} s ago): a newer process of this scheduler uses this worker, so this one must not step it"));
        }

        _current[caller.Scheduler] = (caller, now);
        return current.Incarnation;
    }
}
