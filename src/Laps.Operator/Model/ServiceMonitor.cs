using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Laps.Operator.Model;

/// <summary>The part of the Prometheus Operator's <c>monitoring.coreos.com/v1</c> ServiceMonitor that the operator writes.</summary>
[KubernetesEntity(Group = Group, Kind = KindName, ApiVersion = Version, PluralName = Plural)]
public sealed class ServiceMonitor : IKubernetesObject<V1ObjectMeta>
{
    public const string Group = "monitoring.coreos.com";
    public const string Version = "v1";
    public const string KindName = "ServiceMonitor";
    public const string Plural = "servicemonitors";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = Group + "/" + Version;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KindName;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public ServiceMonitorBody Spec { get; set; } = new();
}

public sealed class ServiceMonitorBody
{
    [JsonPropertyName("selector")]
    public V1LabelSelector Selector { get; set; } = new();

    [JsonPropertyName("endpoints")]
    public IList<ServiceMonitorEndpoint> Endpoints { get; set; } = [];
}

public sealed class ServiceMonitorEndpoint
{
    [JsonPropertyName("port")]
    public string Port { get; set; } = "";

    [JsonPropertyName("path")]
    public string Path { get; set; } = "/metrics";

    [JsonPropertyName("interval")]
    public string? Interval { get; set; }

    [JsonPropertyName("relabelings")]
    public IList<ServiceMonitorRelabeling>? Relabelings { get; set; }
}

/// <summary>A Prometheus relabel rule, as the Prometheus Operator spells it (only the fields the operator sets).</summary>
public sealed class ServiceMonitorRelabeling
{
    [JsonPropertyName("targetLabel")]
    public string TargetLabel { get; set; } = "";

    [JsonPropertyName("replacement")]
    public string? Replacement { get; set; }
}
