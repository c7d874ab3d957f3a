namespace Laps.Operator.Controller;

/// <summary>
/// How long should a key wait before its next try? Per-key exponential backoff (base · 2^failures, capped), never
/// shorter than an overall token bucket allows, so one failing pool backs off alone while a storm of failures cannot
/// hammer the API server. <see cref="Forget"/> after a success resets the key. Thread-safe.
/// </summary>
public sealed class RateLimiter
{
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;
    private readonly double _ratePerSecond;
    private readonly double _burst;
    private double _tokens;
    private long _lastRefill;

    public RateLimiter(TimeProvider time, TimeSpan? baseDelay = null, TimeSpan? maxDelay = null, double ratePerSecond = 10, int burst = 100)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        _time = time;
        _baseDelay = baseDelay ?? TimeSpan.FromMilliseconds(50);
        _maxDelay = maxDelay ?? TimeSpan.FromMinutes(5);
        _ratePerSecond = ratePerSecond;
        _burst = burst;
        _tokens = burst;
        _lastRefill = time.GetTimestamp();
    }

    /// <summary>Records one more failure of <paramref name="key"/> and returns how long it should wait.</summary>
    public TimeSpan When(string key)
    {
        lock (_lock)
        {
            var failures = _failures.GetValueOrDefault(key);
            _failures[key] = failures + 1;
            // 2^failures overflows past ~60; the cap is reached long before.
            var backoff = failures >= 30 ? _maxDelay : TimeSpan.FromTicks(Math.Min(_maxDelay.Ticks, _baseDelay.Ticks * (1L << failures)));
            var bucket = Bucket();
            return backoff > bucket ? backoff : bucket;
        }
    }

    public int Failures(string key)
    {
        lock (_lock)
        {
            return _failures.GetValueOrDefault(key);
        }
    }

    public void Forget(string key)
    {
        lock (_lock)
        {
            _failures.Remove(key);
        }
    }

    // Takes a token (possibly going into debt) and says how long until the debt is paid.
    private TimeSpan Bucket()
    {
        var now = _time.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_lastRefill, now).TotalSeconds * _ratePerSecond));
        _lastRefill = now;
        _tokens -= 1;
        return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _ratePerSecond);
    }
}
