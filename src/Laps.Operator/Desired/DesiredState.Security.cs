using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Models;

namespace Laps.Operator.Desired;

/// <summary>
/// What keeps a pool to itself (docs/security.md): the worker token that every call of the worker protocol carries,
/// the API keys the scheduler asks clients for, and the NetworkPolicy that lets only the pool's scheduler reach its
/// workers.
/// </summary>
public static partial class DesiredState
{
    public const string WorkerTokenKey = "token";
    public const string WorkerTokenDirectory = "/var/run/laps/worker-token";
    public const string WorkerTokenFile = WorkerTokenDirectory + "/" + WorkerTokenKey;
    public const string ApiKeysDirectory = "/var/run/laps/api-keys";
    public const string ApiKeysFile = ApiKeysDirectory + "/keys";

    // The label the API server puts on every namespace, holding its name.
    private const string NamespaceNameLabel = "kubernetes.io/metadata.name";

    private const string WorkerTokenVolumeName = "worker-token";
    private const string ApiKeysVolumeName = "api-keys";

    // A new worker token: 32 random bytes, hex.
    private static string NewWorkerToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// The object to create: the desired one, and for the worker token Secret a new random token. The desired Secret
    /// carries no data, so the builder stays pure and the operator never compares, replaces or rotates a token.
    /// </summary>
    public static IKubernetesObject<V1ObjectMeta> ForCreate(IKubernetesObject<V1ObjectMeta> desired)
    {
        ArgumentNullException.ThrowIfNull(desired);
        if (desired is V1Secret { Data: null } secret)
        {
            secret.Data = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [WorkerTokenKey] = Encoding.ASCII.GetBytes(NewWorkerToken()) };
        }

        return desired;
    }

    private static V1Secret WorkerTokenSecret(ResolvedPool p) => new()
    {
        ApiVersion = "v1",
        Kind = V1Secret.KubeKind,
        Metadata = Meta(p, p.WorkerTokenName, component: null),
        Type = "Opaque",
    };

    // The whole Secret, not a subPath: the kubelet then updates the file in place when the token changes, and the
    // worker and scheduler read it again (no restart, so no hash annotation on the pods).
    private static V1Volume WorkerTokenVolume(ResolvedPool p) => new()
    {
        Name = WorkerTokenVolumeName,
        Secret = new V1SecretVolumeSource { SecretName = p.WorkerTokenName, Items = [new V1KeyToPath { Key = WorkerTokenKey, Path = WorkerTokenKey }] },
    };

    private static V1VolumeMount WorkerTokenMount() => new() { Name = WorkerTokenVolumeName, MountPath = WorkerTokenDirectory, ReadOnlyProperty = true };

    // The user's Secret, its key as the file `keys`; a missing Secret keeps the scheduler pod from starting (fail closed).
    private static IEnumerable<V1Volume> ApiKeysVolumes(ResolvedScheduler s)
    {
        if (s.ApiKeysSecret is { } secret)
        {
            yield return new V1Volume
            {
                Name = ApiKeysVolumeName,
                Secret = new V1SecretVolumeSource { SecretName = secret, Items = [new V1KeyToPath { Key = s.ApiKeysKey, Path = "keys" }] },
            };
        }
    }

    private static IEnumerable<V1VolumeMount> ApiKeysMounts(ResolvedScheduler s)
    {
        if (s.ApiKeysSecret is not null)
        {
            yield return new V1VolumeMount { Name = ApiKeysVolumeName, MountPath = ApiKeysDirectory, ReadOnlyProperty = true };
        }
    }

    private static IEnumerable<string> SchedulerSecretArgs(ResolvedScheduler s)
    {
        yield return "--worker-token-file";
        yield return WorkerTokenFile;
        if (s.ApiKeysSecret is not null)
        {
            yield return "--api-key-file";
            yield return ApiKeysFile;
        }
    }

    /// <summary>
    /// Ingress to the pool's worker pods: <c>grpc</c> only from this pool's scheduler pods, every other port the
    /// worker pods declare (an engine's metrics) only from Prometheus, nothing else. The scheduler pods are not
    /// selected: their one port is the API, reachable as the Service type implies. The kubelet's probes come from the
    /// node, which a NetworkPolicy always lets through.
    /// </summary>
    internal static V1NetworkPolicy WorkerNetworkPolicy(ResolvedPool p, V1Deployment workers)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(workers);
        List<V1NetworkPolicyIngressRule> ingress =
        [
            new V1NetworkPolicyIngressRule
            {
                FromProperty = [new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = PoolLabels.Selector(p.Name, PoolLabels.Scheduler) } }],
                Ports = [new V1NetworkPolicyPort { Port = "grpc", Protocol = "TCP" }],
            },
        ];
        var metrics = workers.Spec.Template.Spec.Containers
            .SelectMany(c => c.Ports ?? [])
            .Where(port => port.Name != "grpc")
            .Select(port => new V1NetworkPolicyPort { Port = port.Name ?? (IntOrString)port.ContainerPort, Protocol = port.Protocol ?? "TCP" })
            .ToList();
        if (metrics.Count > 0)
        {
            ingress.Add(new V1NetworkPolicyIngressRule { FromProperty = [PrometheusPeer(p.NetworkPolicy)], Ports = metrics });
        }

        return new V1NetworkPolicy
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = V1NetworkPolicy.KubeKind,
            Metadata = Meta(p, p.WorkersName, PoolLabels.Worker),
            Spec = new V1NetworkPolicySpec
            {
                PodSelector = new V1LabelSelector { MatchLabels = PoolLabels.Selector(p.Name, PoolLabels.Worker) },
                PolicyTypes = ["Ingress"],
                Ingress = ingress,
            },
        };
    }

    // Pods in the Prometheus namespace (both selectors in one peer: namespace and pod labels must both match).
    private static V1NetworkPolicyPeer PrometheusPeer(ResolvedNetworkPolicy n) => new()
    {
        NamespaceSelector = new V1LabelSelector
        {
            MatchLabels = new Dictionary<string, string>(StringComparer.Ordinal) { [NamespaceNameLabel] = n.PrometheusNamespace },
        },
        PodSelector = n.PrometheusPodLabels is { Count: > 0 } labels
            ? new V1LabelSelector { MatchLabels = new Dictionary<string, string>(labels, StringComparer.Ordinal) }
            : null,
    };
}
