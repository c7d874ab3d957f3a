using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace Laps.Kubernetes.Fake;

/// <summary>Where the scale subresource reads and writes, as a CRD's <c>subresources.scale</c> declares it.</summary>
public sealed record ScalePaths(string SpecReplicas, string StatusReplicas, string? LabelSelector);

/// <summary>One kind the fake serves: its discovery entry and the write rules that differ between kinds.</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Kind,
    string Plural,
    bool Namespaced,
    IReadOnlyList<string> ShortNames,
    bool HasStatus = false,
    ScalePaths? Scale = null,
    bool Custom = false)
{
    // Identity is the API path; a CRD registered again yields an equal type.
    public bool Equals(ResourceType? other) =>
        other is not null && Group == other.Group && Version == other.Version && Plural == other.Plural;

    public override int GetHashCode() => HashCode.Combine(Group, Version, Plural);

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The name used in error messages, as the real server writes it (<c>deployments.apps</c>).</summary>
    public string QualifiedPlural => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    // Real apiserver: kinds with a status subresource and all custom resources count spec changes in generation.
    public bool TracksGeneration => HasStatus || Custom;

    // Custom resources refuse a PUT without metadata.resourceVersion; most built-in kinds accept it unconditionally.
    public bool AllowsUnconditionalUpdate => !Custom;

    // Built-in kinds answer DELETE with a Status; custom resources with the deleted object.
    public bool ReturnsDeletedObject => Custom;

    /// <summary>The type a CustomResourceDefinition object declares (its storage version).</summary>
    public static ResourceType FromCrd(JsonObject crd)
    {
        var spec = crd["spec"]!.AsObject();
        var names = spec["names"]!.AsObject();
        var version = spec["versions"]!.AsArray().Select(v => v!.AsObject())
            .OrderByDescending(v => v["storage"]?.GetValue<bool>() ?? false).First();
        var sub = version["subresources"]?.AsObject();
        var scale = sub?["scale"] is JsonObject s
            ? new ScalePaths((string)s["specReplicasPath"]!, (string)s["statusReplicasPath"]!, (string?)s["labelSelectorPath"])
            : null;
        string Required(JsonNode? node) => (string?)node ?? throw new InvalidOperationException("incomplete CRD");
        return new ResourceType(
            Required(spec["group"]), Required(version["name"]), Required(names["kind"]), Required(names["plural"]),
            (string?)spec["scope"] != "Cluster",
            names["shortNames"]?.AsArray().Select(n => (string)n!).ToArray() ?? [],
            HasStatus: sub?["status"] is not null, Scale: scale, Custom: true);
    }
}

/// <summary>Which kinds does the server know? Built-ins at start; tests and CRD objects add more.</summary>
public sealed class ResourceRegistry
{
    private readonly ConcurrentDictionary<(string Group, string Version, string Plural), ResourceType> _types = new();

    // Declared before BuiltIns: static initializers run in text order.
    public static ResourceType InferencePool { get; } = new(
        "laps.dev", "v1alpha1", "InferencePool", "inferencepools", true, ["ipool"], HasStatus: true,
        Scale: new ScalePaths(".spec.workers.replicas", ".status.workers", ".status.selector"), Custom: true);

    public static ResourceType ServiceMonitor { get; } = new(
        "monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", true, ["smon"], Custom: true);

    public static IEnumerable<ResourceType> BuiltIns { get; } =
    [
        new("", "v1", "ConfigMap", "configmaps", true, ["cm"]),
        new("", "v1", "Service", "services", true, ["svc"], HasStatus: true),
        new("", "v1", "ServiceAccount", "serviceaccounts", true, ["sa"]),
        new("", "v1", "Event", "events", true, ["ev"]),
        new("", "v1", "Namespace", "namespaces", false, ["ns"], HasStatus: true),
        new("", "v1", "Pod", "pods", true, ["po"], HasStatus: true),
        new("", "v1", "Secret", "secrets", true, []),
        new("apps", "v1", "Deployment", "deployments", true, ["deploy"], HasStatus: true),
        new("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, ["pdb"], HasStatus: true),
        new("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, ["netpol"]),
        new("rbac.authorization.k8s.io", "v1", "Role", "roles", true, []),
        new("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, []),
        new("coordination.k8s.io", "v1", "Lease", "leases", true, []),
        new("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, []),
        new("events.k8s.io", "v1", "Event", "events", true, ["ev"]),
        new("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, ["crd", "crds"],
            HasStatus: true),
        InferencePool,
    ];

    public ResourceRegistry()
    {
        foreach (var type in BuiltIns)
        {
            Register(type);
        }
    }

    public void Register(ResourceType type) => _types[(type.Group, type.Version, type.Plural)] = type;

    public bool Unregister(ResourceType type) => _types.TryRemove((type.Group, type.Version, type.Plural), out _);

    public ResourceType? Find(string group, string version, string plural) =>
        _types.TryGetValue((group, version, plural), out var t) ? t : null;

    /// <summary>By <c>plural</c> (core first) or <c>plural.group</c>, as kubectl names resources.</summary>
    public ResourceType Find(string resource) =>
        All.Where(t => t.Plural == resource || t.QualifiedPlural == resource)
            .OrderBy(t => t.Group.Length).FirstOrDefault()
        ?? throw new ArgumentException($"unknown resource {resource}", nameof(resource));

    public ResourceType FindKind(string apiVersion, string kind) =>
        All.FirstOrDefault(t => t.ApiVersion == apiVersion && t.Kind == kind)
        ?? throw new ArgumentException($"unknown kind {apiVersion} {kind}", nameof(kind));

    public IReadOnlyList<ResourceType> All =>
        [.. _types.Values.OrderBy(t => t.Group, StringComparer.Ordinal).ThenBy(t => t.Plural, StringComparer.Ordinal)];
}
