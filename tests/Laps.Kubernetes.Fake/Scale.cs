using System.Globalization;
using System.Text.Json.Nodes;

namespace Laps.Kubernetes.Fake;

/// <summary>The <c>/scale</c> subresource: an autoscaling/v1 Scale view over the paths the kind declares.</summary>
internal static class Scale
{
    public static JsonObject From(ResourceType type, JsonObject obj)
    {
        var paths = type.Scale!;
        var meta = obj["metadata"]!;
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = meta["name"]?.DeepClone(),
                ["namespace"] = meta["namespace"]?.DeepClone(),
                ["uid"] = meta["uid"]?.DeepClone(),
                ["resourceVersion"] = meta["resourceVersion"]?.DeepClone(),
                ["creationTimestamp"] = meta["creationTimestamp"]?.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = Int(Read(obj, paths.SpecReplicas)) },
            ["status"] = new JsonObject
            {
                ["replicas"] = Int(Read(obj, paths.StatusReplicas)),
                ["selector"] = paths.LabelSelector is null ? null : Read(obj, paths.LabelSelector)?.DeepClone(),
            },
        };
    }

    /// <summary>Writes the Scale's replicas into the object; the Scale's resourceVersion, if any, is a precondition.</summary>
    public static JsonObject Apply(ResourceType type, JsonObject obj, JsonObject scale)
    {
        var replicas = scale["spec"]?["replicas"]?.DeepClone() ?? 0;
        var node = obj;
        var steps = type.Scale!.SpecReplicas.Split('.', StringSplitOptions.RemoveEmptyEntries);
        foreach (var step in steps[..^1])
        {
            node = node[step] as JsonObject ?? (JsonObject)(node[step] = new JsonObject());
        }
        node[steps[^1]] = replicas;
        if (scale["metadata"]?["resourceVersion"] is JsonValue rv)
        {
            obj["metadata"]!["resourceVersion"] = rv.DeepClone();
        }
        return obj;
    }

    // Nodes built in code hold an int or a long; parsed ones hold a JsonElement: read the number from its text.
    private static int Int(JsonNode? node) => node is null ? 0 : int.Parse(node.ToJsonString(), CultureInfo.InvariantCulture);

    private static JsonNode? Read(JsonObject obj, string path) =>
        path.Split('.', StringSplitOptions.RemoveEmptyEntries).Aggregate((JsonNode?)obj, (n, step) => n?[step]);
}
