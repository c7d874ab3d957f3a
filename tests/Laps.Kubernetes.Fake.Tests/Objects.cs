using k8s;
using k8s.Models;

namespace Laps.Kubernetes.Fake.Tests;

/// <summary>Test-data builders.</summary>
internal static class Objects
{
    public static V1ConfigMap ConfigMap(string name, string ns = "default", IDictionary<string, string>? labels = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = labels },
        Data = new Dictionary<string, string> { ["key"] = "value" },
    };

    public static V1Deployment Deployment(string name, string ns = "default", int replicas = 1) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "main", Image = "busybox" }] },
            },
        },
    };

    public static V1OwnerReference OwnedBy(IKubernetesObject<V1ObjectMeta> owner) => new()
    {
        ApiVersion = owner.ApiVersion,
        Kind = owner.Kind,
        Name = owner.Metadata.Name,
        Uid = owner.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    public static Dictionary<string, object> Pool(string name, string ns = "default", int replicas = 2) => new()
    {
        ["apiVersion"] = "laps.dev/v1alpha1",
        ["kind"] = "InferencePool",
        ["metadata"] = new Dictionary<string, object> { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new Dictionary<string, object>
        {
            ["workers"] = new Dictionary<string, object> { ["replicas"] = replicas, ["engine"] = "sim" },
        },
    };
}
