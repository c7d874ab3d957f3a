using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Laps.Kubernetes.Fake;

/// <summary>Server-side printing for <c>kubectl get</c>: a meta.k8s.io/v1 Table with the generic Name and Age columns.</summary>
internal static class Tables
{
    public static bool WantsTable(HttpRequest request) =>
        request.Headers.Accept.Any(a => a is not null && a.Contains("as=Table", StringComparison.Ordinal));

    public static JsonObject Build(ResourceType type, IEnumerable<JsonObject> items, long rv, DateTimeOffset now, string? includeObject)
    {
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var meta = item["metadata"]!;
            var row = new JsonObject { ["cells"] = new JsonArray(meta["name"]!.DeepClone(), Age(meta, now)) };
            if (includeObject != "None")
            {
                row["object"] = includeObject == "Object" ? item.DeepClone() : new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = meta.DeepClone(),
                };
            }
            rows.Add(row);
        }
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) },
            ["columnDefinitions"] = new JsonArray(Column("Name", "name"), Column("Age", "")),
            ["rows"] = rows,
        };

        JsonObject Column(string name, string format) => new()
        {
            ["name"] = name, ["type"] = "string", ["format"] = format, ["description"] = "", ["priority"] = 0,
        };
    }

    private static string Age(JsonNode meta, DateTimeOffset now)
    {
        if (!DateTimeOffset.TryParse((string?)meta["creationTimestamp"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created))
        {
            return "<unknown>";
        }
        var age = now - created;
        return age.TotalDays >= 1 ? $"{(int)age.TotalDays}d"
            : age.TotalHours >= 1 ? $"{(int)age.TotalHours}h"
            : age.TotalMinutes >= 1 ? $"{(int)age.TotalMinutes}m"
            : $"{Math.Max(0, (int)age.TotalSeconds)}s";
    }
}
