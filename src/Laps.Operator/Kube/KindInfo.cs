using k8s;
using k8s.Models;
using Laps.Operator.Model;

namespace Laps.Operator.Kube;

/// <summary>Where a kind lives in the API (group "" is the core group).</summary>
public sealed record KindInfo(string Group, string Version, string Plural, string Kind)
{
    public static KindInfo Pool { get; } = new(InferencePool.Group, InferencePool.Version, InferencePool.Plural, InferencePool.KindName);
    public static KindInfo Deployment { get; } = new("apps", "v1", "deployments", V1Deployment.KubeKind);
    public static KindInfo Service { get; } = new("", "v1", "services", V1Service.KubeKind);
    public static KindInfo ConfigMap { get; } = new("", "v1", "configmaps", V1ConfigMap.KubeKind);
    public static KindInfo Secret { get; } = new("", "v1", "secrets", V1Secret.KubeKind);
    public static KindInfo ServiceAccount { get; } = new("", "v1", "serviceaccounts", V1ServiceAccount.KubeKind);
    public static KindInfo Role { get; } = new("rbac.authorization.k8s.io", "v1", "roles", V1Role.KubeKind);
    public static KindInfo RoleBinding { get; } = new("rbac.authorization.k8s.io", "v1", "rolebindings", V1RoleBinding.KubeKind);
    public static KindInfo PodDisruptionBudget { get; } = new("policy", "v1", "poddisruptionbudgets", V1PodDisruptionBudget.KubeKind);
    public static KindInfo NetworkPolicy { get; } = new("networking.k8s.io", "v1", "networkpolicies", V1NetworkPolicy.KubeKind);
    /// <summary>Watched, never written: the worker pods tell why workers do not start (<see cref="Controller.PoolStatus"/>).</summary>
    public static KindInfo Pod { get; } = new("", "v1", "pods", V1Pod.KubeKind);
    public static KindInfo ServiceMonitor { get; } = new(Model.ServiceMonitor.Group, Model.ServiceMonitor.Version, Model.ServiceMonitor.Plural, Model.ServiceMonitor.KindName);

    /// <summary>Every kind a pool may own, with its CLR type, in the order the builder emits them.</summary>
    public static IReadOnlyList<(KindInfo Kind, Type Type)> Owned { get; } =
    [
        (ServiceAccount, typeof(V1ServiceAccount)),
        (Role, typeof(V1Role)),
        (RoleBinding, typeof(V1RoleBinding)),
        (Secret, typeof(V1Secret)),
        (ConfigMap, typeof(V1ConfigMap)),
        (Service, typeof(V1Service)),
        (Deployment, typeof(V1Deployment)),
        (PodDisruptionBudget, typeof(V1PodDisruptionBudget)),
        (NetworkPolicy, typeof(V1NetworkPolicy)),
        (ServiceMonitor, typeof(ServiceMonitor)),
    ];

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public static KindInfo Of(IKubernetesObject o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return Owned.Select(k => k.Kind).Append(Pool).FirstOrDefault(k => k.Kind == o.Kind && k.ApiVersion == o.ApiVersion)
            ?? throw new ArgumentException($"unknown kind {o.ApiVersion}/{o.Kind}", nameof(o));
    }
}
