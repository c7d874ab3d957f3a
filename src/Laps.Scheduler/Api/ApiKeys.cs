using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Laps.Scheduling;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Scheduler.Api;

/// <summary>
/// The clients' API keys and their tenants, from <see cref="SchedulerOptions.ApiKeyFile"/> (a mounted Secret's key):
/// one key per line, optionally followed by whitespace and a tenant name; blank lines and lines starting with <c>#</c>
/// are ignored. A key without a tenant is its own tenant, named <c>key-</c> and the first 8 hex digits of its SHA-256,
/// never the key itself. Without a file every request is let in (<see cref="Enabled"/> false).
/// </summary>
/// <remarks>
/// The file is read again when asked at least <see cref="ReloadInterval"/> after the last read and its contents
/// changed, so a Secret updated in place (the kubelet swaps a symlink) takes effect without a restart. A file that
/// cannot be read or parsed then keeps the keys in force, with a warning: only a start without a good file fails.
/// A key is compared with every key of the file, each in constant time, so the time does not tell which one matched
/// or how much of one did. Thread-safe.
/// </remarks>
public sealed partial class ApiKeys
{
    /// <summary>How often the file is read again at most.</summary>
    public static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(1);

    private readonly string? _path;
    private readonly TimeProvider _time;
    private readonly ILogger? _logger;
    private readonly Lock _lock = new();
    private Entry[] _entries;
    private string _text;
    private DateTimeOffset _readAt;
    private string? _lastProblem;

    private ApiKeys(string? path, string text, Entry[] entries, TimeProvider time, ILogger? logger)
    {
        _path = path;
        _text = text;
        _entries = entries;
        _time = time;
        _logger = logger;
        _readAt = time.GetUtcNow();
    }

    /// <summary>No keys: every request is let in.</summary>
    public static ApiKeys None { get; } = new(null, string.Empty, [], TimeProvider.System, null);

    /// <summary>Whether requests need a key.</summary>
    public bool Enabled => _path is not null;

    /// <summary>
    /// The keys in <paramref name="path"/>, read now and again when it changes. Throws <see cref="ApiKeysException"/>
    /// naming the file (and the line) when it does not exist, cannot be read, holds no key or a line a key file cannot.
    /// </summary>
    public static ApiKeys FromFile(string path, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var text = Read(path);
        return new ApiKeys(path, text, Parse(path, text), time ?? TimeProvider.System, logger);
    }

    /// <summary>
    /// The tenant of the key an <c>Authorization</c> header value carries (<c>Bearer &lt;key&gt;</c>), or null when it
    /// carries none of the file's keys.
    /// </summary>
    public string? TenantOf(string? authorization)
    {
        var given = Credentials.FromBearer(authorization) is { } key ? Credentials.Digest(key) : null;
        Entry[] entries;
        lock (_lock)
        {
            Refresh();
            entries = _entries;
        }

        // Every entry is compared, whatever matched before: the time depends on the number of keys only.
        var probe = given ?? Credentials.Digest(string.Empty);
        string? tenant = null;
        foreach (var entry in entries)
        {
            if (CryptographicOperations.FixedTimeEquals(probe, entry.Digest) && given is not null)
            {
                tenant = entry.Tenant;
            }
        }

        return tenant;
    }

    /// <summary>The tenant of a key that names none: <c>key-</c> and the first 8 hex digits of the key's SHA-256.</summary>
    public static string DerivedTenant(string key) => "key-" + Convert.ToHexStringLower(Credentials.Digest(key), 0, 4);

    // Under the lock.
    private void Refresh()
    {
        var now = _time.GetUtcNow();
        if (_path is null || now - _readAt < ReloadInterval)
        {
            return;
        }

        _readAt = now;
        try
        {
            var text = Read(_path);
            if (text == _text)
            {
                return;
            }

            var entries = Parse(_path, text);
            _text = text;
            _entries = entries;
            _lastProblem = null;
            if (_logger is not null)
            {
                LogReloaded(_logger, _path, entries.Length);
            }
        }
        catch (ApiKeysException e)
        {
            if (e.Message != _lastProblem)
            {
                _lastProblem = e.Message;
                if (_logger is not null)
                {
                    LogUnusable(_logger, e.Message);
                }
            }
        }
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ApiKeysException($"'{path}' does not exist", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ApiKeysException($"'{path}' cannot be read: {e.Message}", e);
        }
    }

    private static Entry[] Parse(string path, string text)
    {
        var entries = new List<Entry>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var where = string.Create(CultureInfo.InvariantCulture, $"'{path}' line {i + 1}");
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 2)
            {
                throw new ApiKeysException($"{where}: expected a key and an optional tenant name, found {fields.Length} fields");
            }

            var key = fields[0];
            if (Credentials.InvisibleAt(key) is var at and >= 0)
            {
                throw new ApiKeysException(string.Create(CultureInfo.InvariantCulture,
                    $"{where}: the key holds a character a key cannot have at position {at + 1}: a key is visible ASCII without spaces"));
            }

            if (seen.TryGetValue(key, out var first))
            {
                throw new ApiKeysException(string.Create(CultureInfo.InvariantCulture, $"{where}: the key of line {first} is listed again"));
            }

            seen.Add(key, i + 1);
            var tenant = fields.Length == 2 ? fields[1] : DerivedTenant(key);
            if (FairShare.Rejection(tenant) is { } problem)
            {
                throw new ApiKeysException($"{where}: {problem}");
            }

            entries.Add(new Entry(Credentials.Digest(key), tenant));
        }

        return entries.Count == 0
            ? throw new ApiKeysException($"'{path}' holds no key: one key per line, optionally followed by a tenant name")
            : [.. entries];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys: {Problem}; the keys read before stay in force")]
    private static partial void LogUnusable(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys: '{Path}' changed; {Count} keys in force")]
    private static partial void LogReloaded(ILogger logger, string path, int count);

    private sealed record Entry(byte[] Digest, string Tenant);
}

/// <summary>An API key file that cannot be used; the message names the file, and the line where one is at fault.</summary>
public sealed class ApiKeysException : Exception
{
    public ApiKeysException()
    {
    }

    public ApiKeysException(string message)
        : base(message)
    {
    }

    public ApiKeysException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
