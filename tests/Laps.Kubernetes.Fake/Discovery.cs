using System.Text.Json.Nodes;

namespace Laps.Kubernetes.Fake;

/// <summary>The discovery documents kubectl and clients read first: versions, groups, and each group's resources.</summary>
internal static class Discovery
{
    public static JsonNode? Document(string path, ResourceRegistry registry, Uri baseAddress)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var types = registry.All;
        JsonObject GroupVersion(string group, string version) => new()
        {
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["version"] = version,
        };
        JsonObject APIGroup(IGrouping<string, ResourceType> g) => new()
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = g.Key,
            ["versions"] = new JsonArray([.. g.Select(t => t.Version).Distinct().Select(v => GroupVersion(g.Key, v))]),
            ["preferredVersion"] = GroupVersion(g.Key, g.First().Version),
        };
        return segments switch
        {
            ["version"] => new JsonObject
            {
                ["major"] = "1", ["minor"] = "35", ["gitVersion"] = "v1.35.0-laps-fake", ["gitCommit"] = "fake",
                ["gitTreeState"] = "clean", ["buildDate"] = "2026-01-01T00:00:00Z", ["goVersion"] = "go1.25",
                ["compiler"] = "gc", ["platform"] = "linux/amd64",
            },
            ["healthz" or "readyz" or "livez"] => JsonValue.Create("ok"),
            ["api"] => new JsonObject
            {
                ["kind"] = "APIVersions",
                ["versions"] = new JsonArray("v1"),
                ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject
                {
                    ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = baseAddress.Authority,
                }),
            },
            // As kube-apiserver orders groups: by priority, and custom resources' groups all have the same one (1000,
            // below every built-in group), so they follow the built-in groups by name. kubectl resolves a resource
            // name that several groups serve to the first of them.
            ["apis"] => new JsonObject
            {
                ["kind"] = "APIGroupList",
                ["apiVersion"] = "v1",
                ["groups"] = new JsonArray([.. types.Where(t => t.Group.Length > 0).OrderBy(t => t.Custom).GroupBy(t => t.Group).Select(APIGroup)]),
            },
            ["apis", var group] when types.Any(t => t.Group == group) => APIGroup(types.Where(t => t.Group == group).GroupBy(t => t.Group).Single()),
            ["api", var version] => ResourceList(types, "", version),
            ["apis", var group, var version] when types.Any(t => t.Group == group && t.Version == version) =>
                ResourceList(types, group, version),
            _ => null,
        };
    }

    private static JsonObject ResourceList(IReadOnlyList<ResourceType> types, string group, string version)
    {
        var resources = new JsonArray();
        foreach (var t in types.Where(t => t.Group == group && t.Version == version))
        {
            resources.Add(new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Kind.ToLowerInvariant(),
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
                ["shortNames"] = new JsonArray([.. t.ShortNames.Select(s => (JsonNode)s)]),
            });
            if (t.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = $"{t.Plural}/status", ["singularName"] = "", ["namespaced"] = t.Namespaced,
                    ["kind"] = t.Kind, ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
            if (t.Scale is not null)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = $"{t.Plural}/scale", ["singularName"] = "", ["namespaced"] = t.Namespaced,
                    ["group"] = "autoscaling", ["version"] = "v1", ["kind"] = "Scale",
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }
}
