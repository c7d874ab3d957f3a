using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Laps.Simulation.Experiments;

namespace Laps.Cli.Reports;

/// <summary>The document results.json holds and <c>--json</c> prints: <c>{"runs":[...]}</c> (docs/cli.md).</summary>
internal sealed record ResultsDocument([property: JsonPropertyName("runs")] IReadOnlyList<RunResult> Runs);

/// <summary>results.json and results.csv: the same fields, named as <see cref="RunResult"/>'s JSON names them.</summary>
internal static class ResultsFiles
{
    public const string JsonFileName = "results.json";
    public const string CsvFileName = "results.csv";

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        // A degenerate run (no requests) can produce NaN; write it rather than fail the whole report.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    /// <summary>Writes both files into <paramref name="directory"/> (which must exist) and returns their paths.</summary>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<RunResult> results)
    {
        var json = Path.Combine(directory, JsonFileName);
        var csv = Path.Combine(directory, CsvFileName);
        File.WriteAllText(json, ToJson(results) + "\n", new UTF8Encoding(false));
        File.WriteAllText(csv, ToCsv(results), new UTF8Encoding(false));
        return [json, csv];
    }

    public static string ToJson(IReadOnlyList<RunResult> results)
        => JsonSerializer.Serialize(new ResultsDocument(results), Options);

    /// <summary>The CSV columns: every serialised property of <see cref="RunResult"/>, in declaration order.</summary>
    public static IReadOnlyList<string> CsvColumns => [.. Columns.Select(p => p.Name)];

    public static string ToCsv(IReadOnlyList<RunResult> results)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', CsvColumns.Select(Escape)).Append('\n');
        foreach (var result in results)
        {
            // Each row is the run's JSON object flattened, so the CSV cannot drift from results.json.
            var fields = JsonSerializer.SerializeToElement(result, Options).EnumerateObject().Select(p => Field(p.Value));
            text.AppendJoin(',', fields.Select(Escape)).Append('\n');
        }

        return text.ToString();
    }

    // The contract's metadata still lists [JsonIgnore] properties (per-request latencies); the files leave them out.
    private static IEnumerable<JsonPropertyInfo> Columns => Options.GetTypeInfo(typeof(RunResult)).Properties
        .Where(p => p.AttributeProvider?.IsDefined(typeof(JsonIgnoreAttribute), inherit: false) != true);

    private static string Field(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => string.Empty,
        JsonValueKind.String => value.GetString() ?? string.Empty,
        _ => value.GetRawText(), // numbers as JSON wrote them: invariant and round-trippable
    };

    // RFC 4180: quote fields holding a comma, quote or line break (a workload mix is comma-separated).
    private static string Escape(string field)
        => field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
}
