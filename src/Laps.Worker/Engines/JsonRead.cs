using System.Text.Json;

namespace Laps.Worker.Engines;

/// <summary>Defensive reads of engine JSON: a field of the wrong type is malformed, a missing one is null.</summary>
internal static class JsonRead
{
    public static JsonElement? Prop(this JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static int? Int(this JsonElement element, string name, string engine)
    {
        if (element.Prop(name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i))
        {
            return i;
        }

        // Some releases report counts as floats (e.g. 3.0).
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
        {
            return (int)d;
        }

        throw Malformed(engine, $"'{name}' is {value.ValueKind}, not an integer");
    }

    public static string? Str(this JsonElement element, string name, string engine)
    {
        if (element.Prop(name) is not { } value)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Malformed(engine, $"'{name}' is {value.ValueKind}, not a string");
    }

    public static int[]? Ids(this JsonElement element, string name, string engine)
    {
        if (element.Prop(name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Malformed(engine, $"'{name}' is {value.ValueKind}, not an array of token ids");
        }

        var ids = new int[value.GetArrayLength()];
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            ids[i++] = item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var id) && id >= 0
                ? id
                : throw Malformed(engine, $"'{name}[{i - 1}]' is not a token id");
        }

        return ids;
    }

    public static EngineException Malformed(string engine, string what)
        => new(EngineFailureKind.Malformed, $"malformed {engine} stream event: {what}");

    public static JsonElement Parse(string data, string engine)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new EngineException(EngineFailureKind.Malformed, $"malformed {engine} stream event: not JSON ({e.Message}): {Excerpt(data)}", e);
        }
    }

    public static string Excerpt(string data) => data.Length > 120 ? data[..120] + "..." : data;
}
