namespace Laps.Scheduler.Discovery;

/// <summary>
/// Which workers exist now? <see cref="RunAsync"/> reports the whole set of addresses (<c>host:port</c>) each time it
/// changes, until cancelled; each report replaces the one before. Reports come from one task at a time.
/// </summary>
public interface IWorkerDiscovery
{
    Task RunAsync(Action<IReadOnlyCollection<string>> onChange, CancellationToken cancellationToken);
}

/// <summary>The configured list, reported once: the pool starts with it and it never changes.</summary>
public sealed class StaticWorkerDiscovery(IReadOnlyCollection<string> workers) : IWorkerDiscovery
{
    public Task RunAsync(Action<IReadOnlyCollection<string>> onChange, CancellationToken cancellationToken)
    {
        onChange(workers);
        return Task.CompletedTask;
    }
}
