using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Laps.Worker.V1;

/// <summary>
/// A pool's worker token: the shared secret every call of the worker protocol carries as the gRPC metadata
/// <c>authorization: Bearer &lt;token&gt;</c>. A worker started with one refuses calls without it; the scheduler sends it.
/// </summary>
/// <remarks>
/// Read from a file (a mounted Secret's key), trimmed: visible ASCII, no spaces. The file is read again when it is
/// asked for at least <see cref="ReloadInterval"/> after the last read, so a rotated Secret takes effect without a
/// restart; the token it replaced stays accepted for <see cref="Grace"/> (and a scheduler falls back to it while a worker
/// still refuses the new one), since the kubelet updates each pod's copy at its own time. A file that goes missing or
/// empty later keeps the last token (with a warning): only a start without one fails. Comparisons take constant time.
/// Thread-safe.
/// </remarks>
public sealed partial class WorkerToken
{
    /// <summary>The gRPC metadata key that carries the token.</summary>
    public const string MetadataKey = "authorization";

    /// <summary>How often the file is read again at most.</summary>
    public static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long the token a rotation replaced stays accepted.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(5);

    private readonly string? _path;
    private readonly TimeProvider _time;
    private readonly ILogger? _logger;
    private readonly Lock _lock = new();
    private Secret _current;
    private Secret? _previous;
    private DateTimeOffset _previousUntil;
    private DateTimeOffset _readAt;
    private bool _warned;

    private WorkerToken(string? path, Secret current, TimeProvider time, ILogger? logger)
    {
        _path = path;
        _current = current;
        _time = time;
        _logger = logger;
        _readAt = time.GetUtcNow();
    }

    /// <summary>The file the token comes from; null for a fixed token.</summary>
    public string? Path => _path;

    /// <summary>
    /// The token in <paramref name="path"/>, read now and again when it changes. Throws <see cref="WorkerTokenException"/>
    /// naming the path when the file does not exist, cannot be read, is empty or holds what a token cannot.
    /// </summary>
    public static WorkerToken FromFile(string path, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new WorkerToken(path, new Secret(Read(path)), time ?? TimeProvider.System, logger);
    }

    /// <summary>A fixed token (a local pool's, generated per run).</summary>
    public static WorkerToken Of(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Check(token, "the token") is { } problem
            ? throw new WorkerTokenException(problem)
            : new WorkerToken(null, new Secret(token), TimeProvider.System, null);
    }

    /// <summary>A new random token: 256 bits, base64url.</summary>
    public static string Generate()
        => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The token to send now.</summary>
    public string Current
    {
        get
        {
            lock (_lock)
            {
                Refresh();
                return _current.Token;
            }
        }
    }

    /// <summary>The token the last rotation replaced, while it is still accepted; null otherwise.</summary>
    public string? Previous
    {
        get
        {
            lock (_lock)
            {
                Refresh();
                return _previous is { } previous && _time.GetUtcNow() < _previousUntil ? previous.Token : null;
            }
        }
    }

    /// <summary>The metadata value that carries <paramref name="token"/>.</summary>
    public static string Bearer(string token) => Credentials.Bearer(token);

    /// <summary>
    /// Whether an <c>authorization</c> value carries this token (or the one it replaced, within its grace), compared in
    /// time independent of the value.
    /// </summary>
    public bool Accepts(string? authorization)
    {
        var given = Credentials.Digest(Credentials.FromBearer(authorization) ?? string.Empty);
        lock (_lock)
        {
            Refresh();
            var previous = _previous is { } p && _time.GetUtcNow() < _previousUntil ? p.Digest : _current.Digest;

            // Both comparisons always run, so the time does not tell which one matched.
            return CryptographicOperations.FixedTimeEquals(given, _current.Digest) | CryptographicOperations.FixedTimeEquals(given, previous);
        }
    }

    // Under the lock.
    private void Refresh()
    {
        var now = _time.GetUtcNow();
        if (_path is null || now - _readAt < ReloadInterval)
        {
            return;
        }

        _readAt = now;
        string token;
        try
        {
            token = Read(_path);
        }
        catch (WorkerTokenException e)
        {
            if (!_warned)
            {
                _warned = true;
                if (_logger is not null)
                {
                    LogUnreadable(_logger, e.Message);
                }
            }

            return;
        }

        _warned = false;
        if (token == _current.Token)
        {
            return;
        }

        _previous = _current;
        _previousUntil = now + Grace;
        _current = new Secret(token);
        if (_logger is not null)
        {
            LogRotated(_logger, _path, Grace.TotalSeconds);
        }
    }

    private static string Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new WorkerTokenException($"'{path}' does not exist", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WorkerTokenException($"'{path}' cannot be read: {e.Message}", e);
        }

        var token = text.Trim();
        return Check(token, $"'{path}'") is { } problem ? throw new WorkerTokenException(problem) : token;
    }

    private static string? Check(string token, string what)
    {
        if (token.Length == 0)
        {
            return $"{what} is empty: it must hold the worker token";
        }

        var at = Credentials.InvisibleAt(token);
        return at < 0
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"{what} holds a character a token cannot have at position {at}: a token is visible ASCII without spaces");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "worker token: {Problem}; the last token read stays in force")]
    private static partial void LogUnreadable(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "worker token: '{Path}' changed; the token it replaced is accepted for {Seconds} s more")]
    private static partial void LogRotated(ILogger logger, string path, double seconds);

    private sealed record Secret(string Token)
    {
        public byte[] Digest { get; } = Credentials.Digest(Token);
    }
}

/// <summary>A worker token that cannot be read; the message names the file and what is wrong with it.</summary>
public sealed class WorkerTokenException : Exception
{
    public WorkerTokenException()
    {
    }

    public WorkerTokenException(string message)
        : base(message)
    {
    }

    public WorkerTokenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
