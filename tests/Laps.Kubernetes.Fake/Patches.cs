using System.Globalization;
using System.Text.Json.Nodes;

namespace Laps.Kubernetes.Fake;

/// <summary>JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on stored objects.</summary>
public static class Patches
{
    public static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }
        var result = target as JsonObject is { } t ? t.DeepClone().AsObject() : [];
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = Merge(result[key], value);
            }
        }
        return result;
    }

    public static JsonNode Apply(JsonNode document, JsonArray operations)
    {
        var root = new JsonObject { ["doc"] = document.DeepClone() };
        foreach (var op in operations.Select(o => o!.AsObject()))
        {
            var path = "/doc" + (string?)op["path"];
            switch ((string?)op["op"])
            {
                case "add":
                    Add(root, path, op["value"]?.DeepClone());
                    break;
                case "remove":
                    Remove(root, path);
                    break;
                case "replace":
                    Remove(root, path);
                    Add(root, path, op["value"]?.DeepClone());
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Resolve(root, path), op["value"]))
                    {
                        throw new ApiException(422, "Invalid", $"the server rejected our request due to an error in our request: test failed at {op["path"]}");
                    }
                    break;
                case "move":
                    var moved = Resolve(root, "/doc" + (string?)op["from"])?.DeepClone();
                    Remove(root, "/doc" + (string?)op["from"]);
                    Add(root, path, moved);
                    break;
                case "copy":
                    Add(root, path, Resolve(root, "/doc" + (string?)op["from"])?.DeepClone());
                    break;
                default:
                    throw ApiException.BadRequest($"unknown JSON patch operation {op["op"]}");
            }
        }
        return root["doc"]!;
    }

    private static (JsonNode Parent, string Key) Locate(JsonNode root, string pointer)
    {
        var tokens = pointer.Split('/')[1..].Select(t => t.Replace("~1", "/", StringComparison.Ordinal)
            .Replace("~0", "~", StringComparison.Ordinal)).ToArray();
        var node = root;
        foreach (var token in tokens[..^1])
        {
            node = (node is JsonArray array ? array[Index(token, array.Count)] : node[token])
                ?? throw new ApiException(422, "Invalid", $"path {pointer} does not exist");
        }
        return (node, tokens[^1]);
    }

    private static JsonNode? Resolve(JsonNode root, string pointer)
    {
        var (parent, key) = Locate(root, pointer);
        return parent is JsonArray array ? array[Index(key, array.Count)] : parent[key];
    }

    private static void Add(JsonNode root, string pointer, JsonNode? value)
    {
        var (parent, key) = Locate(root, pointer);
        if (parent is JsonArray array)
        {
            array.Insert(key == "-" ? array.Count : Index(key, array.Count + 1), value);
        }
        else
        {
            parent.AsObject()[key] = value;
        }
    }

    private static void Remove(JsonNode root, string pointer)
    {
        var (parent, key) = Locate(root, pointer);
        if (parent is JsonArray array)
        {
            array.RemoveAt(Index(key, array.Count));
        }
        else if (!parent.AsObject().Remove(key))
        {
            throw new ApiException(422, "Invalid", $"unable to remove nonexistent key {pointer[4..]}");
        }
    }

    private static int Index(string token, int count) =>
        int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < count
            ? i
            : throw new ApiException(422, "Invalid", $"index {token} out of range");
}
