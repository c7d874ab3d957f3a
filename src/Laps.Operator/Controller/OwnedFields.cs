using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Laps.Operator.Controller;

/// <summary>
/// Does a live object still hold what the operator set? Every field of the desired object must be in the live one
/// with the same value; of its metadata only the labels and annotations count (ownership is checked on its own).
/// Fields the desired object leaves out are not looked at, so what the API server defaults or allocates (a Service's
/// clusterIP, a container's terminationMessagePath, a Deployment's revisionHistoryLimit) is never taken for a change.
/// A list the operator sets must match entry by entry, so an entry added or removed by hand is a change. An empty
/// value (<c>""</c>, <c>[]</c>, an object of empty values) matches an absent one, as the API server drops some.
/// Quantities compare as written: the API server stores them canonical, and the client serializes them canonical.
/// </summary>
public static class OwnedFields
{
    /// <summary>The fields <paramref name="desired"/> sets, as compared with <see cref="HeldBy(JsonObject, JsonNode)"/>.</summary>
    public static JsonObject Of(IKubernetesObject<V1ObjectMeta> desired)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var fields = ToJson(desired);
        // A list's items carry no kind; the rest of the metadata is the server's.
        fields.Remove("apiVersion");
        fields.Remove("kind");
        fields["metadata"] = new JsonObject
        {
            ["labels"] = fields["metadata"]?["labels"]?.DeepClone(),
            ["annotations"] = fields["metadata"]?["annotations"]?.DeepClone(),
        };
        return fields;
    }

    public static bool HeldBy(JsonObject fields, IKubernetesObject<V1ObjectMeta> live) => HeldBy(fields, ToJson(live));

    public static bool HeldBy(JsonObject fields, JsonElement live) => HeldBy(fields, JsonNode.Parse(live.GetRawText())!);

    public static bool HeldBy(JsonObject fields, JsonNode live) => Covers(fields, live);

    private static bool Covers(JsonNode? desired, JsonNode? live) => desired switch
    {
        null => true,
        _ when live is null => IsEmpty(desired),
        JsonObject d => live is JsonObject l && d.All(p => Covers(p.Value, l[p.Key])),
        JsonArray d => live is JsonArray l && d.Count == l.Count && d.Select((e, i) => Covers(e, l[i])).All(c => c),
        _ => JsonNode.DeepEquals(desired, live),
    };

    private static bool IsEmpty(JsonNode node) => node switch
    {
        JsonObject o => o.All(p => p.Value is null || IsEmpty(p.Value)),
        JsonArray a => a.Count == 0,
        JsonValue v => v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Length == 0,
        _ => false,
    };

    private static JsonObject ToJson(object o) => JsonNode.Parse(KubernetesJson.Serialize(o))!.AsObject();
}
