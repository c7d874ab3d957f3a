using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Laps.Deploy.Tests;

/// <summary>
/// YAML documents as JsonNode trees, for path-style assertions. Every scalar stays a string ("true", "2"), as
/// the tests compare rendered text, not inferred types.
/// </summary>
public static class Yaml
{
    public static IReadOnlyList<JsonObject> LoadAll(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return [.. stream.Documents
            .Select(d => ToJson(d.RootNode))
            .OfType<JsonObject>()];
    }

    public static JsonNode? Load(string text) =>
        LoadAll(text) is [var single] ? single : throw new FormatException($"expected one document, got {LoadAll(text).Count}");

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode { Value: null or "" or "~" or "null", Style: YamlDotNet.Core.ScalarStyle.Plain } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new FormatException($"unsupported YAML node {node.NodeType}"),
    };
}
