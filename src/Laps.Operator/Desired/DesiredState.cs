using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Laps.Operator.Model;
using Laps.Scheduling.Policies;

namespace Laps.Operator.Desired;

/// <summary>The labels every owned object carries; the operator's informers select on <see cref="ManagedBy"/>.</summary>
public static class PoolLabels
{
    public const string Name = "app.kubernetes.io/name";
    public const string Instance = "app.kubernetes.io/instance";
    public const string Component = "app.kubernetes.io/component";
    public const string ManagedByKey = "app.kubernetes.io/managed-by";
    public const string ManagedByValue = "laps-operator";
    public const string Pool = "laps.dev/pool";
    public const string ManagedBy = ManagedByKey + "=" + ManagedByValue;
    public const string ConfigHash = "laps.dev/config-hash";

    public const string Worker = "worker";
    public const string Scheduler = "scheduler";

    /// <summary>The (immutable) pod selector of one component.</summary>
    public static Dictionary<string, string> Selector(string pool, string component) => new(StringComparer.Ordinal)
    {
        [Name] = "laps",
        [Instance] = pool,
        [Component] = component,
    };

    public static Dictionary<string, string> For(string pool, string? component)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [Name] = "laps",
            [Instance] = pool,
            [ManagedByKey] = ManagedByValue,
            [Pool] = pool,
        };
        if (component is not null)
        {
            labels[Component] = component;
        }

        return labels;
    }

    public static string SelectorString(string pool, string component)
        => string.Join(',', Selector(pool, component).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
}

/// <summary>
/// The objects a pool should own: a pure function of the pool, the operator's settings and what the cluster offers.
/// Same input, same objects, in apply order (identities and config before the workloads that use them).
/// </summary>
public static partial class DesiredState
{
    public const int SchedulerPort = 8080;
    public const string ConfigKey = "scheduler.json";
    public const string ConfigDirectory = "/etc/laps";

    public static IReadOnlyList<IKubernetesObject<V1ObjectMeta>> Build(InferencePool pool, OperatorSettings settings, ClusterCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(capabilities);
        var p = ResolvedPool.From(pool, settings);
        var config = SchedulerConfig(p.Scheduler);
        var workers = WorkerDeployment(p);
        var objects = new List<IKubernetesObject<V1ObjectMeta>>
        {
            SchedulerServiceAccount(p),
            SchedulerRole(p),
            SchedulerRoleBinding(p),
            WorkerTokenSecret(p),
            SchedulerConfigMap(p, config),
            WorkerService(p),
            workers,
            WorkerDisruptionBudget(p),
            SchedulerService(p),
            SchedulerDeployment(p, Hash(config)),
        };
        if (p.NetworkPolicy.Enabled)
        {
            objects.Add(WorkerNetworkPolicy(p, workers));
        }

        if (p.Monitoring.ServiceMonitor && capabilities.ServiceMonitorCrd)
        {
            objects.Add(SchedulerServiceMonitor(p));
            if (Engines.IsReal(p.Workers.Engine))
            {
                objects.Add(EngineServiceMonitor(p));
            }
        }

        var owner = new V1OwnerReference
        {
            ApiVersion = InferencePool.GroupVersion,
            Kind = InferencePool.KindName,
            Name = pool.Metadata.Name,
            Uid = pool.Metadata.Uid,
            BlockOwnerDeletion = true,
            Controller = true,
        };
        foreach (var o in objects)
        {
            o.Metadata.OwnerReferences = [owner];
        }

        return objects;
    }

    /// <summary>
    /// scheduler.json in appsettings shape: the pool's policy, batch and queue limit and each policy knob it sets, under
    /// the sidecar's configuration keys (<see cref="SchedulerKnobs"/>); knobs it leaves out keep the scheduler's defaults.
    /// </summary>
    public static string SchedulerConfig(ResolvedScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        var section = new JsonObject();
        foreach (var (knob, value) in scheduler.Knobs())
        {
            // "Laps:Queues" → {"Laps": {"Queues": ...}}; a choice in the sidecar's spelling ("paper" → "Paper").
            var path = knob.Key.Split(':');
            var parent = path[..^1].Aggregate(section, (o, name) => (JsonObject)(o[name] ??= new JsonObject()));
            parent[path[^1]] = knob.Type == KnobType.Choice ? JsonValue.Create(knob.ToConfig(value.GetValue<string>())) : value.DeepClone();
        }

        return new JsonObject { ["Scheduler"] = section }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Short content hash; a pod-template annotation, so a config change rolls the scheduler pods.</summary>
    public static string Hash(string content)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..16];

    private static V1ServiceAccount SchedulerServiceAccount(ResolvedPool p) => new()
    {
        ApiVersion = "v1",
        Kind = V1ServiceAccount.KubeKind,
        Metadata = Meta(p, p.SchedulerName, PoolLabels.Scheduler),
        AutomountServiceAccountToken = true,
    };

    // Least privilege for `laps scheduler --discovery kubernetes [--leader-elect]` in the pool's namespace.
    private static V1Role SchedulerRole(ResolvedPool p) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = V1Role.KubeKind,
        Metadata = Meta(p, p.SchedulerName, PoolLabels.Scheduler),
        Rules =
        [
            new V1PolicyRule { ApiGroups = ["discovery.k8s.io"], Resources = ["endpointslices"], Verbs = ["get", "list", "watch"] },
            // Its own Lease only (--lease-name); RBAC cannot scope create by name, as the name is not known before.
            new V1PolicyRule { ApiGroups = ["coordination.k8s.io"], Resources = ["leases"], ResourceNames = [p.SchedulerName], Verbs = ["get", "update"] },
            new V1PolicyRule { ApiGroups = ["coordination.k8s.io"], Resources = ["leases"], Verbs = ["create"] },
            new V1PolicyRule { ApiGroups = [""], Resources = ["events"], Verbs = ["create"] },
        ],
    };

    private static V1RoleBinding SchedulerRoleBinding(ResolvedPool p) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = V1RoleBinding.KubeKind,
        Metadata = Meta(p, p.SchedulerName, PoolLabels.Scheduler),
        RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = p.SchedulerName },
        Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = p.SchedulerName, NamespaceProperty = p.Namespace }],
    };

    private static V1ConfigMap SchedulerConfigMap(ResolvedPool p, string config) => new()
    {
        ApiVersion = "v1",
        Kind = V1ConfigMap.KubeKind,
        Metadata = Meta(p, p.SchedulerName, PoolLabels.Scheduler),
        Data = new Dictionary<string, string>(StringComparer.Ordinal) { [ConfigKey] = config },
    };

    // Headless: the scheduler routes to each worker itself, from the EndpointSlices this Service owns (port `grpc`).
    // An engine pool's Service also lists the engine metrics port, for the ServiceMonitor P-engines.
    private static V1Service WorkerService(ResolvedPool p)
    {
        List<V1ServicePort> ports =
        [
            new V1ServicePort { Name = "grpc", Port = p.Workers.Port, TargetPort = "grpc", Protocol = "TCP", AppProtocol = "kubernetes.io/h2c" },
        ];
        if (Engines.IsReal(p.Workers.Engine))
        {
            ports.Add(new V1ServicePort { Name = EngineMetricsPortName, Port = EngineMetricsPort, TargetPort = EngineMetricsPortName, Protocol = "TCP" });
        }

        return new V1Service
        {
            ApiVersion = "v1",
            Kind = V1Service.KubeKind,
            Metadata = Meta(p, p.WorkersName, PoolLabels.Worker),
            Spec = new V1ServiceSpec
            {
                ClusterIP = "None",
                Selector = PoolLabels.Selector(p.Name, PoolLabels.Worker),
                Ports = ports,
            },
        };
    }

    private static V1Deployment WorkerDeployment(ResolvedPool p)
    {
        var w = p.Workers;
        if (Engines.IsReal(w.Engine))
        {
            return EngineWorkerDeployment(p);
        }

        var container = new V1Container
        {
            Name = PoolLabels.Worker,
            Image = w.Image,
            ImagePullPolicy = w.ImagePullPolicy,
            Args = w.Engine == Engines.Sim ? SimWorkerArgs(w) : [.. w.Args],
            Ports = [new V1ContainerPort { Name = "grpc", ContainerPort = w.Port, Protocol = "TCP" }],
            Env = [.. PodIdentity(), .. WorkerEnv(w), .. w.Env],
            Resources = w.Resources,
            // The worker serves laps.worker.v1 only (no grpc.health.v1): an accepting port is the signal.
            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "grpc" }, PeriodSeconds = 5, FailureThreshold = 3 },
            LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "grpc" }, InitialDelaySeconds = 10, PeriodSeconds = 10, FailureThreshold = 6 },
            SecurityContext = ContainerSecurity(),
            VolumeMounts = [WorkerTokenMount(), new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
        };
        return WorkersDeployment(p, PodSpec(container, serviceAccount: null, w.NodeSelector, w.Tolerations, [WorkerTokenVolume(p)]));
    }

    /// <summary>The pool's workers Deployment around a pod spec (the default rolling update unless one is given).</summary>
    private static V1Deployment WorkersDeployment(ResolvedPool p, V1PodSpec spec, V1DeploymentStrategy? strategy = null) => new()
    {
        ApiVersion = "apps/v1",
        Kind = V1Deployment.KubeKind,
        Metadata = Meta(p, p.WorkersName, PoolLabels.Worker),
        Spec = new V1DeploymentSpec
        {
            Replicas = p.Workers.Replicas,
            Strategy = strategy,
            Selector = new V1LabelSelector { MatchLabels = PoolLabels.Selector(p.Name, PoolLabels.Worker) },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = PoolLabels.For(p.Name, PoolLabels.Worker) },
                Spec = spec,
            },
        },
    };

    private static List<string> SimWorkerArgs(ResolvedWorkers w) =>
    [
        "worker",
        "--host", "0.0.0.0",
        "--port", Invariant(w.Port),
        "--proposer", w.Proposer,
        "--k", Invariant(w.SpeculationLength),
        "--max-batch", Invariant(w.MaxBatch),
        "--workload", w.Workload,
        "--time-scale", w.TimeScale.ToString("R", CultureInfo.InvariantCulture),
        "--token-file", WorkerTokenFile,
        .. w.Args,
    ];

    // A custom engine reads the pool's settings from its environment (it has its own command line).
    private static IEnumerable<V1EnvVar> WorkerEnv(ResolvedWorkers w)
    {
        yield return new V1EnvVar { Name = "LAPS_WORKER_PORT", Value = Invariant(w.Port) };
        yield return new V1EnvVar { Name = "LAPS_MODEL_LLM", Value = w.Llm };
        if (w.Ssm is not null)
        {
            yield return new V1EnvVar { Name = "LAPS_MODEL_SSM", Value = w.Ssm };
        }

        yield return new V1EnvVar { Name = "LAPS_SPECULATION_LENGTH", Value = Invariant(w.SpeculationLength) };
        yield return new V1EnvVar { Name = "LAPS_PROPOSER", Value = w.Proposer };
        yield return new V1EnvVar { Name = "LAPS_MAX_BATCH", Value = Invariant(w.MaxBatch) };

        // A custom image must refuse calls without `authorization: Bearer <the file's token>` (docs/security.md).
        yield return new V1EnvVar { Name = "LAPS_WORKER_TOKEN_FILE", Value = WorkerTokenFile };
    }

    private static V1PodDisruptionBudget WorkerDisruptionBudget(ResolvedPool p) => new()
    {
        ApiVersion = "policy/v1",
        Kind = V1PodDisruptionBudget.KubeKind,
        Metadata = Meta(p, p.WorkersName, PoolLabels.Worker),
        Spec = new V1PodDisruptionBudgetSpec
        {
            // One worker at a time: its sequences move to the others (recomputed), so capacity dips by one.
            MaxUnavailable = 1,
            Selector = new V1LabelSelector { MatchLabels = PoolLabels.Selector(p.Name, PoolLabels.Worker) },
        },
    };

    private static V1Service SchedulerService(ResolvedPool p) => new()
    {
        ApiVersion = "v1",
        Kind = V1Service.KubeKind,
        Metadata = Meta(p, p.SchedulerName, PoolLabels.Scheduler),
        Spec = new V1ServiceSpec
        {
            Type = p.Scheduler.ServiceType,
            Selector = PoolLabels.Selector(p.Name, PoolLabels.Scheduler),
            Ports = [new V1ServicePort { Name = "http", Port = p.Scheduler.ServicePort, TargetPort = "http", Protocol = "TCP" }],
        },
    };

    private static V1Deployment SchedulerDeployment(ResolvedPool p, string configHash)
    {
        var s = p.Scheduler;
        List<string> args =
        [
            "scheduler",
            "--host", "*",
            "--port", Invariant(SchedulerPort),
            "--config", $"{ConfigDirectory}/{ConfigKey}",
            "--discovery", "kubernetes",
            "--worker-namespace", p.Namespace,
            "--worker-selector", $"kubernetes.io/service-name={p.WorkersName}",
            "--worker-port-name", "grpc",
            "--model", p.Workers.Llm,
            .. SchedulerSecretArgs(s),
        ];
        if (s.Replicas > 1)
        {
            // Active-passive: only the Lease holder steps workers and reports ready, so the Service routes to it.
            args.AddRange(["--leader-elect", "--lease-name", p.SchedulerName]);
        }

        var container = new V1Container
        {
            Name = PoolLabels.Scheduler,
            Image = s.Image,
            Args = args,
            Ports = [new V1ContainerPort { Name = "http", ContainerPort = SchedulerPort, Protocol = "TCP" }],
            Env = [.. PodIdentity()],
            Resources = s.Resources,
            ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/readyz", Port = "http" }, PeriodSeconds = 5, FailureThreshold = 3 },
            LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/healthz", Port = "http" }, InitialDelaySeconds = 10, PeriodSeconds = 10, FailureThreshold = 6 },
            SecurityContext = ContainerSecurity(),
            VolumeMounts =
            [
                new V1VolumeMount { Name = "config", MountPath = ConfigDirectory, ReadOnlyProperty = true },
                WorkerTokenMount(),
                .. ApiKeysMounts(s),
                new V1VolumeMount { Name = "tmp", MountPath = "/tmp" },
            ],
        };
        var configVolume = new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = p.SchedulerName } };
        V1Volume[] volumes = [configVolume, WorkerTokenVolume(p), .. ApiKeysVolumes(s)];
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = V1Deployment.KubeKind,
            Metadata = Meta(p, p.SchedulerName, PoolLabels.Scheduler),
            Spec = new V1DeploymentSpec
            {
                Replicas = s.Replicas,
                // Active-passive replicas: a standby never reports ready, so a rolling update would wait for it forever.
                // Several replicas are replaced at once instead (a few seconds without a scheduler, as a failover).
                Strategy = s.Replicas > 1 ? new V1DeploymentStrategy { Type = "Recreate" } : null,
                Selector = new V1LabelSelector { MatchLabels = PoolLabels.Selector(p.Name, PoolLabels.Scheduler) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta
                    {
                        Labels = PoolLabels.For(p.Name, PoolLabels.Scheduler),
                        Annotations = new Dictionary<string, string>(StringComparer.Ordinal) { [PoolLabels.ConfigHash] = configHash },
                    },
                    Spec = PodSpec(container, p.SchedulerName, s.NodeSelector, s.Tolerations, volumes),
                },
            },
        };
    }

    // The dashboard and alerts select sidecars by job and pool (docs/monitoring.md).
    private static ServiceMonitor SchedulerServiceMonitor(ResolvedPool p)
        => PoolServiceMonitor(p, p.Name, PoolLabels.Scheduler, "http", "laps-scheduler");

    // The engines' own series (vllm:*, sglang:*) through each adapter's proxy: job laps-engine, pool; pod is the target's.
    private static ServiceMonitor EngineServiceMonitor(ResolvedPool p)
        => PoolServiceMonitor(p, p.EnginesMonitorName, PoolLabels.Worker, EngineMetricsPortName, "laps-engine");

    // A ServiceMonitor of one component's Service: the Prometheus Operator labels a target with namespace, service, pod,
    // container and endpoint; the relabelings name the job and the pool.
    private static ServiceMonitor PoolServiceMonitor(ResolvedPool p, string name, string component, string port, string job)
    {
        var meta = Meta(p, name, component);
        foreach (var (key, value) in p.Monitoring.Labels ?? new Dictionary<string, string>())
        {
            meta.Labels.TryAdd(key, value);
        }

        return new ServiceMonitor
        {
            Metadata = meta,
            Spec = new ServiceMonitorBody
            {
                Selector = new V1LabelSelector { MatchLabels = PoolLabels.Selector(p.Name, component) },
                Endpoints =
                [
                    new ServiceMonitorEndpoint
                    {
                        Port = port,
                        Path = "/metrics",
                        Interval = p.Monitoring.Interval,
                        Relabelings =
                        [
                            new ServiceMonitorRelabeling { TargetLabel = "job", Replacement = job },
                            new ServiceMonitorRelabeling { TargetLabel = "pool", Replacement = p.Name },
                        ],
                    },
                ],
            },
        };
    }

    private static V1PodSpec PodSpec(
        V1Container container, string? serviceAccount, IDictionary<string, string>? nodeSelector, IList<V1Toleration>? tolerations, IEnumerable<V1Volume> volumes) => new()
    {
        ServiceAccountName = serviceAccount,
        // Workers never call the API server; only the scheduler needs a token.
        AutomountServiceAccountToken = serviceAccount is not null,
        Containers = [container],
        NodeSelector = nodeSelector is { Count: > 0 } ? new Dictionary<string, string>(nodeSelector, StringComparer.Ordinal) : null,
        Tolerations = tolerations is { Count: > 0 } ? [.. tolerations] : null,
        SecurityContext = new V1PodSecurityContext
        {
            RunAsNonRoot = true,
            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
        },
        Volumes = [.. volumes, new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() }],
    };

    private static V1SecurityContext ContainerSecurity() => new()
    {
        RunAsNonRoot = true,
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = true,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    private static IEnumerable<V1EnvVar> PodIdentity()
    {
        yield return new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } };
        yield return new V1EnvVar { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } };
    }

    private static V1ObjectMeta Meta(ResolvedPool p, string name, string? component) => new()
    {
        Name = name,
        NamespaceProperty = p.Namespace,
        Labels = PoolLabels.For(p.Name, component),
    };

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
