namespace Laps.Scheduler.Tests;

/// <summary>An append-only log whose readers await the entry they expect (no polling, no sleeps).</summary>
public sealed class EventLog<T>
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly List<T> _items = [];
    private readonly List<(Func<T, bool> Match, int Skip, TaskCompletionSource<T> Done)> _waiters = [];

    public IReadOnlyList<T> Snapshot()
    {
        lock (_gate)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        List<TaskCompletionSource<T>> done = [];
        lock (_gate)
        {
            _items.Add(item);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                // Entries before the waiter's skip count are not its to match, even when they arrive after it waited.
                if (_items.Count > _waiters[i].Skip && _waiters[i].Match(item))
                {
                    done.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var tcs in done)
        {
            tcs.TrySetResult(item);
        }
    }

    /// <summary>The first entry after the first <paramref name="skip"/> (already logged or yet to come) that matches, within <see cref="Timeout"/>.</summary>
    public Task<T> WaitAsync(Func<T, bool> match, int skip = 0)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (var item in _items.Skip(skip))
            {
                if (match(item))
                {
                    return Task.FromResult(item);
                }
            }

            _waiters.Add((match, skip, tcs));
        }

        return tcs.Task.WaitAsync(Timeout);
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }
}
