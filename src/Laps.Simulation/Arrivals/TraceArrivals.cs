using System.Globalization;

namespace Laps.Simulation.Arrivals;

/// <summary>
/// Arrivals replayed from an Azure LLM inference trace CSV (<c>TIMESTAMP,ContextTokens,GeneratedTokens</c>, timestamps
/// like <c>2023-11-16 18:15:46.6805900</c>; plain numbers are read as seconds). The inter-arrival gaps are taken in file
/// order and scaled so that their mean gives the target rate; the burst structure (CV) is kept. When more arrivals are
/// asked for than the trace has gaps, the gaps repeat cyclically; the starting gap is chosen by the <see cref="Random"/>,
/// so seeds see different stretches of the trace.
/// </summary>
public sealed class TraceArrivals : IArrivalProcess
{
    private static readonly string[] TimestampFormats =
    [
        "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mm:ssK",
    ];

    private static readonly Lock CacheLock = new();
    private static readonly Dictionary<string, (long Length, DateTime LastWriteUtc, TraceArrivals Trace)> Cache = new(StringComparer.Ordinal);

    private readonly double[] _gaps;

    private TraceArrivals(string filePath, double[] times, int[]? contextTokens, int[]? generatedTokens)
    {
        FilePath = filePath;
        _gaps = new double[times.Length - 1];
        for (var i = 1; i < times.Length; i++)
        {
            _gaps[i - 1] = times[i] - times[i - 1];
        }

        MeanGapSeconds = _gaps.Average();
        var variance = _gaps.Sum(g => (g - MeanGapSeconds) * (g - MeanGapSeconds)) / _gaps.Length;
        InterArrivalCv = Math.Sqrt(variance) / MeanGapSeconds;
        DurationSeconds = times[^1] - times[0];
        ContextTokens = contextTokens;
        GeneratedTokens = generatedTokens;
    }

    public string FilePath { get; }

    public string Name => FilePath;

    /// <summary>Number of requests (rows) in the trace.</summary>
    public int Count => _gaps.Length + 1;

    /// <summary>The inter-arrival gaps in seconds, in file order (Count − 1 of them).</summary>
    public IReadOnlyList<double> Gaps => _gaps;

    public double MeanGapSeconds { get; }

    /// <summary>The trace's own mean rate, requests per second.</summary>
    public double MeanRatePerSecond => 1.0 / MeanGapSeconds;

    /// <summary>Coefficient of variation (population sd / mean) of the inter-arrival gaps: ≈ 1 for Poisson.</summary>
    public double InterArrivalCv { get; }

    public double DurationSeconds { get; }

    /// <summary>The ContextTokens column, when the file has one.</summary>
    public IReadOnlyList<int>? ContextTokens { get; }

    /// <summary>The GeneratedTokens column, when the file has one.</summary>
    public IReadOnlyList<int>? GeneratedTokens { get; }

    /// <summary>Loads (or returns the cached) trace; throws <see cref="ArrivalFormatException"/> naming file and line.</summary>
    public static TraceArrivals Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new ArrivalFormatException(path, null, "not a valid file path: " + ex.Message, ex);
        }

        var info = new FileInfo(fullPath);
        if (!info.Exists)
        {
            throw new ArrivalFormatException(path, null, "arrival trace file not found");
        }

        lock (CacheLock)
        {
            if (Cache.TryGetValue(fullPath, out var cached) && cached.Length == info.Length && cached.LastWriteUtc == info.LastWriteTimeUtc)
            {
                return cached.Trace;
            }
        }

        TraceArrivals trace;
        try
        {
            using var reader = new StreamReader(fullPath);
            trace = Read(reader, path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ArrivalFormatException(path, null, "cannot read arrival trace: " + ex.Message, ex);
        }

        lock (CacheLock)
        {
            Cache[fullPath] = (info.Length, info.LastWriteTimeUtc, trace);
        }

        return trace;
    }

    /// <summary>Parses CSV text; <paramref name="filePath"/> names it in error messages.</summary>
    public static TraceArrivals Read(TextReader reader, string filePath)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(filePath);
        var times = new List<double>();
        var context = new List<int>();
        var generated = new List<int>();
        int timeColumn = 0, contextColumn = 1, generatedColumn = 2;
        var columns = -1;
        DateTime? origin = null;
        var lineNumber = 0;
        var first = true;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var fields = line.Split(',');
            for (var i = 0; i < fields.Length; i++)
            {
                fields[i] = fields[i].Trim().Trim('"');
            }

            if (first)
            {
                first = false;
                if (IsHeader(fields[0]))
                {
                    timeColumn = IndexOf(fields, "TIMESTAMP");
                    if (timeColumn < 0)
                    {
                        throw new ArrivalFormatException(filePath, lineNumber, "header has no TIMESTAMP column (expected TIMESTAMP,ContextTokens,GeneratedTokens)");
                    }

                    contextColumn = IndexOf(fields, "ContextTokens");
                    generatedColumn = IndexOf(fields, "GeneratedTokens");
                    columns = fields.Length;
                    continue;
                }

                columns = fields.Length;
                contextColumn = columns > 1 ? 1 : -1;
                generatedColumn = columns > 2 ? 2 : -1;
            }

            if (fields.Length != columns)
            {
                throw new ArrivalFormatException(filePath, lineNumber, FormattableString.Invariant($"expected {columns} comma-separated fields, found {fields.Length}"));
            }

            var time = ParseTime(fields[timeColumn], filePath, lineNumber, ref origin);
            if (times.Count > 0 && time < times[^1])
            {
                throw new ArrivalFormatException(filePath, lineNumber,
                    $"timestamp '{fields[timeColumn]}' is earlier than the previous row's (rows must be in time order)");
            }

            times.Add(time);
            if (contextColumn >= 0)
            {
                context.Add(ParseTokens(fields[contextColumn], "ContextTokens", filePath, lineNumber));
            }

            if (generatedColumn >= 0)
            {
                generated.Add(ParseTokens(fields[generatedColumn], "GeneratedTokens", filePath, lineNumber));
            }
        }

        if (times.Count < 2)
        {
            throw new ArrivalFormatException(filePath, null, FormattableString.Invariant($"an arrival trace needs at least 2 rows, found {times.Count}"));
        }

        if (!(times[^1] > times[0]))
        {
            throw new ArrivalFormatException(filePath, null, "all timestamps are equal: the trace has no time span to rescale");
        }

        return new TraceArrivals(
            filePath,
            times.ToArray(),
            contextColumn >= 0 ? context.ToArray() : null,
            generatedColumn >= 0 ? generated.ToArray() : null);
    }

    public double[] Generate(int n, double ratePerSecond, Random random)
    {
        ArrivalChecks.Validate(n, ratePerSecond, random);
        var times = new double[n];
        if (n == 0)
        {
            return times;
        }

        var scale = 1.0 / (ratePerSecond * MeanGapSeconds);
        var offset = random.Next(_gaps.Length);
        for (var i = 1; i < n; i++)
        {
            times[i] = times[i - 1] + (_gaps[(offset + i - 1) % _gaps.Length] * scale);
        }

        return times;
    }

    private static bool IsHeader(string field)
        => field.Length > 0 && !char.IsDigit(field[0]) && field[0] != '-' && field[0] != '+' && field[0] != '.';

    private static int IndexOf(string[] fields, string name)
        => Array.FindIndex(fields, f => string.Equals(f, name, StringComparison.OrdinalIgnoreCase));

    private static double ParseTime(string text, string filePath, int lineNumber, ref DateTime? origin)
    {
        if (DateTime.TryParseExact(text, TimestampFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var stamp))
        {
            origin ??= stamp;
            return (stamp - origin.Value).TotalSeconds;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds))
        {
            return seconds;
        }

        throw new ArrivalFormatException(filePath, lineNumber,
            $"invalid timestamp '{text}' (expected e.g. 2023-11-16 18:15:46.6805900, or seconds as a number)");
    }

    private static int ParseTokens(string text, string column, string filePath, int lineNumber)
        => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new ArrivalFormatException(filePath, lineNumber, $"{column} '{text}' is not a non-negative integer");
}
