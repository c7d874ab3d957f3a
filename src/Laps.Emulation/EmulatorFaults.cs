namespace Laps.Emulation;

/// <summary>
/// Faults on demand, for tests and for trying an adapter by hand (<c>POST /emulator/faults</c>): each applies to the
/// next generate request(s) the emulator receives. Thread-safe.
/// </summary>
public sealed class EmulatorFaults
{
    private readonly Lock _lock = new();
    private int _failNext;
    private int _failStatus = 500;
    private int? _resetAfterChunks;
    private bool _malformedNext;
    private bool _errorEventNext;

    /// <summary>SGLang: /abort_request takes this long to answer, and aborts only then.</summary>
    public TimeSpan AbortAnswerDelay { get; set; }

    /// <summary>SGLang: while set and not completed, /abort_request waits for it before it answers and aborts (tests).</summary>
    public Task? HoldAborts { get; set; }

    /// <summary>The next <paramref name="count"/> generate requests answer <paramref name="status"/> with an error body.</summary>
    public void FailNext(int count, int status = 500)
    {
        lock (_lock)
        {
            _failNext = count;
            _failStatus = status;
        }
    }

    /// <summary>The next stream is reset (the connection aborted) after it has sent <paramref name="chunks"/> chunks.</summary>
    public void ResetNextStreamAfter(int chunks)
    {
        lock (_lock)
        {
            _resetAfterChunks = chunks;
        }
    }

    /// <summary>The next stream's next event is not JSON.</summary>
    public void MalformedNextChunk()
    {
        lock (_lock)
        {
            _malformedNext = true;
        }
    }

    /// <summary>The next stream's next event is an error event (then the stream ends).</summary>
    public void ErrorEventNext()
    {
        lock (_lock)
        {
            _errorEventNext = true;
        }
    }

    internal int? TakeFailure()
    {
        lock (_lock)
        {
            if (_failNext <= 0)
            {
                return null;
            }

            _failNext--;
            return _failStatus;
        }
    }

    internal StreamFaults TakeStreamFaults()
    {
        lock (_lock)
        {
            var faults = new StreamFaults(_resetAfterChunks, _malformedNext, _errorEventNext);
            _resetAfterChunks = null;
            _malformedNext = false;
            _errorEventNext = false;
            return faults;
        }
    }

    internal sealed record StreamFaults(int? ResetAfterChunks, bool Malformed, bool ErrorEvent);
}
