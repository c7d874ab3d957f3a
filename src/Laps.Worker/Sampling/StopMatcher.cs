namespace Laps.Worker.Sampling;

/// <summary>
/// Matches stop strings on a sequence's text as it streams, across Step and preemption boundaries: text that could be
/// the start of a stop string is held back until the next text decides it, so a client never sees part of a stop
/// string, and a stop string split between two engine requests (before and after a resume) still matches. Not
/// thread-safe: one per sequence, used under the sequence's lock.
/// </summary>
public sealed class StopMatcher
{
    private readonly string[] _stops;
    private string _held = string.Empty;

    /// <param name="stops">The stop strings (none: every text passes through at once).</param>
    public StopMatcher(IEnumerable<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        _stops = [.. stops.Where(s => !string.IsNullOrEmpty(s))];
    }

    /// <summary>True once a stop string matched: later text is dropped.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The stop string that matched, or null.</summary>
    public string? Matched { get; private set; }

    /// <summary>Text held back because it may begin a stop string.</summary>
    public string Held => _held;

    public bool HasStops => _stops.Length > 0;

    /// <summary>
    /// Appends <paramref name="text"/>; returns the text that may be emitted now: everything before a matched stop string
    /// (then <see cref="Stopped"/> is true), else everything except a suffix that could begin a stop string.
    /// </summary>
    public string Append(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Stopped)
        {
            return string.Empty;
        }

        if (_stops.Length == 0)
        {
            return text;
        }

        var buffer = _held + text;
        var first = -1;
        string? matched = null;
        foreach (var stop in _stops)
        {
            var at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
                matched = stop;
            }
        }

        if (first >= 0)
        {
            Stopped = true;
            Matched = matched;
            _held = string.Empty;
            return buffer[..first];
        }

        var keep = HoldBack(buffer);
        _held = buffer[(buffer.Length - keep)..];
        return buffer[..(buffer.Length - keep)];
    }

    /// <summary>At the sequence's end without a match: the held-back text, which is then emitted.</summary>
    public string Flush()
    {
        var held = _held;
        _held = string.Empty;
        return held;
    }

    // The longest suffix of the buffer that is a proper prefix of some stop string.
    private int HoldBack(string buffer)
    {
        var longest = 0;
        foreach (var stop in _stops)
        {
            for (var n = Math.Min(stop.Length - 1, buffer.Length); n > longest; n--)
            {
                if (buffer.AsSpan(buffer.Length - n).SequenceEqual(stop.AsSpan(0, n)))
                {
                    longest = n;
                    break;
                }
            }
        }

        return longest;
    }
}
