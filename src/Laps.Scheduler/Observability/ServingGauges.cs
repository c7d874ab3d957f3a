using Laps.Scheduling;
using Laps.Scheduling.Requests;

namespace Laps.Scheduler.Observability;

/// <summary>
/// Publishes the serving path's gauges, and a zero sample of every labelled counter for each worker that joins, so
/// <c>rate()</c> and alerts see a healthy worker from its first scrape rather than no data until its first event.
/// </summary>
internal sealed class ServingGauges(SchedulerMetrics metrics, TimeProvider time)
{
    private const int RecountEveryStep = 1024;
    private static readonly TimeSpan LongQueueRecountPeriod = TimeSpan.FromMilliseconds(250);

    private int[] _queuedByLevel = new int[1];
    private long _levelsCountedAt;

    public void WorkerJoined(string worker)
    {
        foreach (var counter in new[] { metrics.Preemptions, metrics.DraftedTokens, metrics.AcceptedTokens, metrics.GeneratedTokens, metrics.StepFailures })
        {
            counter.WithLabels(worker).Inc(0);
        }

        metrics.Running.WithLabels(worker).Set(0);
        metrics.WorkerReady.WithLabels(worker).Set(0);
    }

    public void Running(string worker, int running) => metrics.Running.WithLabels(worker).Set(running);

    public void Ready(string worker, bool ready) => metrics.WorkerReady.WithLabels(worker).Set(ready ? 1 : 0);

    public void Perceptible(int perceptible) => metrics.Perceptible.Set(perceptible);

    /// <summary>Drops the gauges of a worker that left the pool (its counters stay: rates need their history).</summary>
    public void Forget(string worker)
    {
        foreach (var gauge in new[] { metrics.Running, metrics.WorkerReady })
        {
            gauge.RemoveLabelled(worker);
        }
    }

    /// <summary>
    /// Waiting requests per queue level, pool-wide. Levels move with every step, so this counts them afresh: every
    /// call while the queue is short, at most every 250 ms once it is long (counting 10,000 requests costs about as
    /// much as a step's scheduling work; a scrape every few seconds cannot tell the difference).
    /// </summary>
    public void Queued(PoolScheduler core, IEnumerable<RequestState> admitted)
    {
        var pending = core.Pending;
        var now = time.GetTimestamp();
        if (pending > RecountEveryStep && time.GetElapsedTime(_levelsCountedAt, now) < LongQueueRecountPeriod)
        {
            return;
        }

        _levelsCountedAt = now;
        Array.Clear(_queuedByLevel);
        foreach (var request in admitted)
        {
            if (request.Running || !core.Policy.Contains(request))
            {
                continue;
            }

            var level = core.Policy.QueueLevel(request);
            if (level >= _queuedByLevel.Length)
            {
                Array.Resize(ref _queuedByLevel, level + 1);
            }

            _queuedByLevel[level]++;
        }

        // Level 0 always has a series, so "nothing queued" reads 0 rather than no data.
        for (var level = 0; level < _queuedByLevel.Length; level++)
        {
            metrics.Queued.WithLabels(LevelLabels.For(level)).Set(_queuedByLevel[level]);
        }
    }
}
