using System.Threading.Channels;

namespace Laps.Operator.Controller;

/// <summary>
/// Which key should a worker reconcile next? client-go's work queue: a key waits at most once (adds while it waits
/// coalesce), a key being processed is never handed to a second worker (an add during processing marks it dirty,
/// and <see cref="Done"/> queues it again), keys come out in FIFO order. Delayed and rate-limited adds run on a
/// <see cref="TimeProvider"/>. After <see cref="ShutDown"/> no key is accepted or handed out (<see cref="GetAsync"/>
/// returns null): a reconciler is level-based, so whoever runs next relists and loses nothing. Thread-safe.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "client-go's name for it")]
public sealed class WorkQueue : IDisposable
{
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly HashSet<string> _processing = new(StringComparer.Ordinal);
    private readonly HashSet<ITimer> _timers = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly RateLimiter _limiter;
    private TaskCompletionSource? _idle;
    private int _queued;
    private bool _shuttingDown;

    public WorkQueue(TimeProvider time, RateLimiter? limiter = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _limiter = limiter ?? new RateLimiter(time);
    }

    /// <summary>Keys waiting (not counting those being processed).</summary>
    public int Depth
    {
        get
        {
            lock (_lock)
            {
                return _queued;
            }
        }
    }

    public void Add(string key)
    {
        lock (_lock)
        {
            if (_shuttingDown || !_dirty.Add(key) || _processing.Contains(key))
            {
                return;
            }

            Enqueue(key);
        }
    }

    public void AddAfter(string key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (_lock)
        {
            if (_shuttingDown)
            {
                return;
            }

            ITimer? timer = null;
            timer = _time.CreateTimer(
                _ =>
                {
                    lock (_lock)
                    {
                        _timers.Remove(timer!);
                    }

                    timer!.Dispose();
                    Add(key);
                },
                null, delay, Timeout.InfiniteTimeSpan);
            _timers.Add(timer);
        }
    }

    /// <summary>Adds the key after its backoff (one more failure counted).</summary>
    public void AddRateLimited(string key) => AddAfter(key, _limiter.When(key));

    /// <summary>The key succeeded: its backoff starts over.</summary>
    public void Forget(string key) => _limiter.Forget(key);

    public int Failures(string key) => _limiter.Failures(key);

    /// <summary>The next key, which the caller now owns until <see cref="Done"/>; null once shut down and empty.</summary>
    public async Task<string?> GetAsync(CancellationToken cancellationToken)
    {
        while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!_queue.Reader.TryRead(out var key))
            {
                continue;
            }

            lock (_lock)
            {
                _queued--;
                if (_shuttingDown)
                {
                    return null;
                }

                _processing.Add(key);
                _dirty.Remove(key);
            }

            return key;
        }

        return null;
    }

    public void Done(string key)
    {
        lock (_lock)
        {
            _processing.Remove(key);
            if (_dirty.Contains(key))
            {
                Enqueue(key);
            }

            if (_processing.Count == 0)
            {
                _idle?.TrySetResult();
            }
        }
    }

    /// <summary>Stops taking and handing out keys; queued and delayed keys are dropped.</summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            _shuttingDown = true;
            foreach (var timer in _timers)
            {
                timer.Dispose();
            }

            _timers.Clear();
            _queue.Writer.TryComplete();
        }
    }

    /// <summary>Shuts down and waits until no key is being processed (in-flight reconciles finish).</summary>
    public Task ShutDownWithDrainAsync(CancellationToken cancellationToken)
    {
        Task idle;
        lock (_lock)
        {
            ShutDown();
            if (_processing.Count == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            idle = _idle.Task;
        }

        return idle.WaitAsync(cancellationToken);
    }

    public void Dispose() => ShutDown();

    private void Enqueue(string key)
    {
        if (_shuttingDown)
        {
            return;
        }

        _queued++;
        _queue.Writer.TryWrite(key);
    }
}
