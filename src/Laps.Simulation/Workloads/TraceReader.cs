using System.Globalization;
using System.Text.Json;

namespace Laps.Simulation.Workloads;

/// <summary>The JSONL layouts <see cref="TraceReader"/> understands, detected per line.</summary>
public enum TraceFormat
{
    /// <summary>
    /// The compact layout (docs/workloads.md, "Trace formats"): <c>id</c>, <c>dataset</c>, <c>prompt_tokens</c>,
    /// <c>output_tokens</c>, <c>acc_len_eagle</c>, <c>acc_len_ngram</c>, <c>prompt_token_ids</c>.
    /// </summary>
    Compact,

    /// <summary>
    /// The upstream SpecDecode-Bench simulator layout (github.com/SpecDecode-Bench/simulator, data/*/combined_*.jsonl):
    /// <c>id</c>, <c>prompt_token_ids</c>, <c>generated_token_ids</c>, <c>acc_eagle: {acc_len: [...]}</c>,
    /// <c>acc_ngram: {acc_len: [...]}</c> (older files carry a single <c>acc: {acc_len}</c>).
    /// </summary>
    SpecDecodeBench,
}

/// <summary>
/// Reads per-request acceptance traces (JSONL, one request per line, blank lines skipped) in either
/// <see cref="TraceFormat"/>; the format is detected line by line, so the two may even be mixed in one file.
/// </summary>
/// <remarks>
/// <para>Each line becomes a <see cref="WorkloadEntry"/>: <c>Source</c> is the compact format's <c>dataset</c>, or the
/// file name without extension; <c>Id</c> is the line's <c>id</c> (string or number; <c>line-N</c> if absent);
/// <c>PromptTokens</c> is <c>prompt_tokens</c>, or the length of <c>prompt_token_ids</c>.</para>
/// <para>Missing proposer: when a line carries the acceptance array of only one proposer, the other proposer's
/// array is filled with ones of the same length, i.e. that proposer is modelled as never having a draft accepted
/// (one token per step). Upstream lines with only the generic <c>acc.acc_len</c> use it for both proposers, as the
/// upstream loader (request.py) does.</para>
/// <para>Upstream lines may carry <c>generated_token_ids</c> (integers &gt;= 0), kept as <c>GeneratedTokenIds</c> so the sim
/// worker can emit the recorded tokens.</para>
/// <para>Acceptance values must be integers &gt;= 1; there is no upper cap (upstream n-gram traces reach 21).</para>
/// <para>Every problem throws <see cref="WorkloadFormatException"/> naming the file and the 1-based line.</para>
/// </remarks>
public static class TraceReader
{
    /// <summary>Reads a whole trace file. Throws <see cref="WorkloadFormatException"/> if it cannot be read or is malformed.</summary>
    public static IReadOnlyList<WorkloadEntry> ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        StreamReader reader;
        try
        {
            reader = new StreamReader(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new WorkloadFormatException(path, null, "workload trace file not found", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new WorkloadFormatException(path, null, "cannot read workload trace: " + ex.Message, ex);
        }

        using (reader)
        {
            return Read(reader, path);
        }
    }

    /// <summary>
    /// Reads trace lines from <paramref name="reader"/>. <paramref name="filePath"/> names the input in error messages,
    /// and its stem is the default <c>Source</c> (override with <paramref name="defaultSource"/>).
    /// </summary>
    public static IReadOnlyList<WorkloadEntry> Read(TextReader reader, string filePath, string? defaultSource = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(filePath);
        var source = defaultSource ?? SourceNameFor(filePath);
        var entries = new List<WorkloadEntry>();
        var lineNumber = 0;
        while (true)
        {
            string? line;
            try
            {
                line = reader.ReadLine();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new WorkloadFormatException(filePath, lineNumber + 1, "cannot read workload trace: " + ex.Message, ex);
            }

            if (line is null)
            {
                break;
            }

            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            entries.Add(ParseLine(line, filePath, lineNumber, source));
        }

        if (entries.Count == 0)
        {
            throw new WorkloadFormatException(filePath, null, "the workload trace holds no requests (no non-blank lines)");
        }

        return entries;
    }

    /// <summary>The default <c>Source</c> for a file: its name without directory and extension.</summary>
    public static string SourceNameFor(string filePath)
    {
        var stem = Path.GetFileNameWithoutExtension(filePath);
        return string.IsNullOrEmpty(stem) ? "trace" : stem;
    }

    /// <summary>Which format a parsed line is in; null when it carries the fields of neither.</summary>
    public static TraceFormat? DetectFormat(JsonElement line)
    {
        if (line.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (Has(line, "acc_len_eagle") || Has(line, "acc_len_ngram") || Has(line, "prompt_tokens") || Has(line, "dataset"))
        {
            return TraceFormat.Compact;
        }

        if (Has(line, "acc_eagle") || Has(line, "acc_ngram") || Has(line, "acc") || Has(line, "generated_token_ids"))
        {
            return TraceFormat.SpecDecodeBench;
        }

        return null;
    }

    /// <summary>Parses one non-blank JSONL line (either format).</summary>
    public static WorkloadEntry ParseLine(string line, string filePath, int lineNumber, string defaultSource)
    {
        ArgumentNullException.ThrowIfNull(line);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new WorkloadFormatException(filePath, lineNumber, "invalid JSON: " + ex.Message, ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Error(filePath, lineNumber, $"expected a JSON object per line, found {Describe(root.ValueKind)}");
            }

            return DetectFormat(root) switch
            {
                TraceFormat.Compact => ParseCompact(root, filePath, lineNumber, defaultSource),
                TraceFormat.SpecDecodeBench => ParseUpstream(root, filePath, lineNumber, defaultSource),
                _ => throw Error(filePath, lineNumber,
                    "missing acceptance fields: expected 'acc_len_eagle'/'acc_len_ngram' (compact format) or "
                    + "'acc_eagle.acc_len'/'acc_ngram.acc_len' (SpecDecode-Bench format)"),
            };
        }
    }

    private static WorkloadEntry ParseCompact(JsonElement root, string filePath, int lineNumber, string defaultSource)
    {
        var id = ReadId(root, filePath, lineNumber);
        var source = defaultSource;
        if (root.TryGetProperty("dataset", out var dataset) && dataset.ValueKind != JsonValueKind.Null)
        {
            if (dataset.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(dataset.GetString()))
            {
                throw Error(filePath, lineNumber, "field 'dataset' must be a non-empty string");
            }

            source = dataset.GetString()!;
        }

        var promptIds = OptionalIntArray(root, "prompt_token_ids", filePath, lineNumber, minimum: 0, allowEmpty: true);
        int promptTokens;
        if (root.TryGetProperty("prompt_tokens", out var promptElement) && promptElement.ValueKind != JsonValueKind.Null)
        {
            if (promptElement.ValueKind != JsonValueKind.Number || !promptElement.TryGetInt32(out promptTokens) || promptTokens < 1)
            {
                throw Error(filePath, lineNumber, $"field 'prompt_tokens' must be an integer >= 1, found {Raw(promptElement)}");
            }
        }
        else if (promptIds is not null)
        {
            promptTokens = RequirePromptLength(promptIds, filePath, lineNumber);
        }
        else
        {
            throw Error(filePath, lineNumber, "missing field 'prompt_tokens' (or 'prompt_token_ids')");
        }

        var eagle = OptionalIntArray(root, "acc_len_eagle", filePath, lineNumber, minimum: 1, allowEmpty: false);
        var ngram = OptionalIntArray(root, "acc_len_ngram", filePath, lineNumber, minimum: 1, allowEmpty: false);
        if (eagle is null && ngram is null)
        {
            throw Error(filePath, lineNumber, "missing field 'acc_len_eagle' or 'acc_len_ngram' (at least one is needed)");
        }

        return new WorkloadEntry(source, id, promptTokens, eagle ?? Ones(ngram!.Length), ngram ?? Ones(eagle!.Length), promptIds);
    }

    private static WorkloadEntry ParseUpstream(JsonElement root, string filePath, int lineNumber, string defaultSource)
    {
        var id = ReadId(root, filePath, lineNumber);
        var promptIds = OptionalIntArray(root, "prompt_token_ids", filePath, lineNumber, minimum: 0, allowEmpty: true)
                        ?? throw Error(filePath, lineNumber, "missing field 'prompt_token_ids'");
        var promptTokens = RequirePromptLength(promptIds, filePath, lineNumber);

        var eagle = NestedAccLen(root, "acc_eagle", filePath, lineNumber);
        var ngram = NestedAccLen(root, "acc_ngram", filePath, lineNumber);
        if (eagle is null || ngram is null)
        {
            var generic = NestedAccLen(root, "acc", filePath, lineNumber);
            eagle ??= generic;
            ngram ??= generic;
        }

        if (eagle is null && ngram is null)
        {
            throw Error(filePath, lineNumber, "missing field 'acc_eagle.acc_len' or 'acc_ngram.acc_len' (at least one is needed)");
        }

        var generatedIds = OptionalIntArray(root, "generated_token_ids", filePath, lineNumber, minimum: 0, allowEmpty: true);
        return new WorkloadEntry(defaultSource, id, promptTokens, eagle ?? Ones(ngram!.Length), ngram ?? Ones(eagle!.Length), promptIds, generatedIds);
    }

    private static int[]? NestedAccLen(JsonElement root, string name, string filePath, int lineNumber)
    {
        if (!root.TryGetProperty(name, out var holder) || holder.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (holder.ValueKind != JsonValueKind.Object)
        {
            throw Error(filePath, lineNumber, $"field '{name}' must be an object with an 'acc_len' array, found {Describe(holder.ValueKind)}");
        }

        if (!holder.TryGetProperty("acc_len", out var array) || array.ValueKind == JsonValueKind.Null)
        {
            throw Error(filePath, lineNumber, $"missing field '{name}.acc_len'");
        }

        return IntArray(array, name + ".acc_len", filePath, lineNumber, minimum: 1, allowEmpty: false);
    }

    private static int RequirePromptLength(int[] promptIds, string filePath, int lineNumber)
        => promptIds.Length >= 1
            ? promptIds.Length
            : throw Error(filePath, lineNumber, "field 'prompt_token_ids' is an empty array (a prompt needs at least one token)");

    private static string ReadId(JsonElement root, string filePath, int lineNumber)
    {
        if (!root.TryGetProperty("id", out var id) || id.ValueKind == JsonValueKind.Null)
        {
            return "line-" + lineNumber.ToString(CultureInfo.InvariantCulture);
        }

        return id.ValueKind switch
        {
            JsonValueKind.String => id.GetString()!,
            JsonValueKind.Number => id.GetRawText(),
            _ => throw Error(filePath, lineNumber, $"field 'id' must be a string or a number, found {Describe(id.ValueKind)}"),
        };
    }

    private static int[]? OptionalIntArray(JsonElement root, string name, string filePath, int lineNumber, int minimum, bool allowEmpty)
        => root.TryGetProperty(name, out var array) && array.ValueKind != JsonValueKind.Null
            ? IntArray(array, name, filePath, lineNumber, minimum, allowEmpty)
            : null;

    private static int[] IntArray(JsonElement array, string name, string filePath, int lineNumber, int minimum, bool allowEmpty)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw Error(filePath, lineNumber, $"field '{name}' must be an array of integers, found {Describe(array.ValueKind)}");
        }

        var length = array.GetArrayLength();
        if (length == 0 && !allowEmpty)
        {
            throw Error(filePath, lineNumber, $"field '{name}' is an empty array (a request needs at least one output position)");
        }

        var values = new int[length];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var value))
            {
                throw Error(filePath, lineNumber, $"{name}[{i}] must be an integer, found {Raw(item)}");
            }

            if (value < minimum)
            {
                throw Error(filePath, lineNumber, $"{name}[{i}] = {value}: values must be >= {minimum}");
            }

            values[i++] = value;
        }

        return values;
    }

    private static int[] Ones(int length)
    {
        var ones = new int[length];
        Array.Fill(ones, 1);
        return ones;
    }

    private static bool Has(JsonElement root, string name) => root.TryGetProperty(name, out _);

    private static string Raw(JsonElement element)
    {
        var text = element.GetRawText();
        return text.Length > 40 ? string.Concat(text.AsSpan(0, 40), "...") : text;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static WorkloadFormatException Error(string filePath, int lineNumber, string problem)
        => new(filePath, lineNumber, problem);
}
