using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using k8s.Models;
using Laps.Operator.Model;
using Laps.Scheduling.Policies;

namespace Laps.Operator.Desired;

/// <summary>
/// An <see cref="InferencePool"/> with every default filled in: the same defaults as the CRD schema, so a pool that
/// came through the API server and one built in a test resolve alike.
/// </summary>
public sealed record ResolvedPool(
    string Name,
    string Namespace,
    string Uid,
    long Generation,
    ResolvedWorkers Workers,
    ResolvedScheduler Scheduler,
    ResolvedMonitoring Monitoring,
    ResolvedNetworkPolicy NetworkPolicy)
{
    public static ResolvedPool From(InferencePool pool, OperatorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(settings);
        var w = pool.Spec?.Workers ?? new WorkersSpec();
        var s = pool.Spec?.Scheduler ?? new SchedulerSpec();
        var m = pool.Spec?.Monitoring?.ServiceMonitor ?? new ServiceMonitorSpec();
        var engine = w.Engine ?? Engines.Sim;
        var workers = new ResolvedWorkers(
            Replicas: w.Replicas ?? 1,
            Engine: engine,
            // A real engine's pod runs the Laps adapter from `image` (default the operator's) beside `engineImage`.
            Image: w.Image ?? (engine == Engines.Custom ? null : settings.DefaultImage),
            ImagePullPolicy: w.ImagePullPolicy,
            // A real engine has no stand-in model: a missing llm is a mistake to report ("").
            Llm: w.Models?.Llm ?? (Engines.IsReal(engine) ? "" : "laps-sim"),
            Ssm: w.Models?.Ssm,
            SpeculationLength: w.SpeculationLength ?? 4,
            Proposer: w.Proposer ?? "eagle",
            Port: w.Port ?? 50051,
            MaxBatch: w.MaxBatch ?? 64,
            Workload: w.Sim?.Workload ?? "chat",
            TimeScale: w.Sim?.TimeScale ?? 1,
            HasSimSettings: w.Sim is not null,
            Resources: w.Resources,
            NodeSelector: w.NodeSelector,
            Tolerations: w.Tolerations,
            Args: w.Args ?? [],
            Env: w.Env ?? [],
            EngineImage: w.EngineImage ?? engine switch
            {
                Engines.Vllm => Engines.VllmImage,
                Engines.Sglang => Engines.SglangImage,
                _ => null,
            },
            HasEngineSettings: w.EngineImage is not null || w.ModelCache is not null || w.HuggingFaceToken is not null,
            ModelCacheClaim: w.ModelCache?.ClaimName,
            ModelCacheSizeLimit: w.ModelCache?.SizeLimit,
            // huggingFaceToken without a secretName is a mistake to report, not a pool without a token.
            HuggingFaceTokenSecret: w.HuggingFaceToken is null ? null : w.HuggingFaceToken.SecretName ?? "",
            HuggingFaceTokenKey: w.HuggingFaceToken?.Key ?? "token");
        var scheduler = new ResolvedScheduler(
            Replicas: s.Replicas ?? 1,
            Image: s.Image ?? settings.DefaultImage,
            Policy: s.Policy ?? SchedulerKnobs.Policy.Default,
            BatchSize: s.BatchSize ?? SchedulerKnobs.DefaultBatch,
            MaxQueued: s.MaxQueued ?? SchedulerKnobs.DefaultMaxQueued,
            StarvationGuard: s.StarvationGuard,
            Laps: s.Laps,
            Mlfq: s.Mlfq,
            ServiceType: s.Service?.Type ?? "ClusterIP",
            ServicePort: s.Service?.Port ?? 80,
            Resources: s.Resources,
            NodeSelector: s.NodeSelector,
            Tolerations: s.Tolerations,
            // apiKeys without a secretName is a mistake to report, not a pool without keys.
            ApiKeysSecret: s.ApiKeys is null ? null : s.ApiKeys.SecretName ?? "",
            ApiKeysKey: s.ApiKeys?.Key ?? "keys");
        var monitoring = new ResolvedMonitoring(m.Enabled ?? false, m.Interval ?? "15s", m.Labels);
        var n = pool.Spec?.NetworkPolicy ?? new NetworkPolicySpec();
        var networkPolicy = new ResolvedNetworkPolicy(n.Enabled ?? true, n.Prometheus?.Namespace ?? "monitoring", n.Prometheus?.PodLabels);
        return new ResolvedPool(
            pool.Metadata.Name, pool.Metadata.NamespaceProperty ?? "default", pool.Metadata.Uid ?? "",
            pool.Metadata.Generation ?? 0, workers, scheduler, monitoring, networkPolicy);
    }

    public string WorkersName => Name + "-workers";

    public string SchedulerName => Name + "-scheduler";

    /// <summary>The ServiceMonitor of an engine pool's engines (the pool's own is named after the pool).</summary>
    public string EnginesMonitorName => Name + "-engines";

    /// <summary>The Secret with the pool's worker token (key <c>token</c>), which the operator creates once.</summary>
    public string WorkerTokenName => Name + "-worker-token";

    public string Endpoint => string.Create(
        CultureInfo.InvariantCulture, $"http://{SchedulerName}.{Namespace}.svc:{Scheduler.ServicePort}");
}

public sealed record ResolvedWorkers(
    int Replicas,
    string Engine,
    string? Image,
    string? ImagePullPolicy,
    string Llm,
    string? Ssm,
    int SpeculationLength,
    string Proposer,
    int Port,
    int MaxBatch,
    string Workload,
    double TimeScale,
    bool HasSimSettings,
    V1ResourceRequirements? Resources,
    IDictionary<string, string>? NodeSelector,
    IList<V1Toleration>? Tolerations,
    IList<string> Args,
    IList<V1EnvVar> Env,
    string? EngineImage,
    bool HasEngineSettings,
    string? ModelCacheClaim,
    ResourceQuantity? ModelCacheSizeLimit,
    string? HuggingFaceTokenSecret,
    string HuggingFaceTokenKey)
{
    /// <summary>The engine's HTTP port on the pod's loopback (the engines' own defaults).</summary>
    public int EnginePort => Engine == Engines.Sglang ? 30000 : 8000;
}

public sealed record ResolvedScheduler(
    int Replicas,
    string Image,
    string Policy,
    int BatchSize,
    int MaxQueued,
    bool? StarvationGuard,
    LapsSpec? Laps,
    MlfqSpec? Mlfq,
    string ServiceType,
    int ServicePort,
    V1ResourceRequirements? Resources,
    IDictionary<string, string>? NodeSelector,
    IList<V1Toleration>? Tolerations,
    string? ApiKeysSecret,
    string ApiKeysKey)
{
    /// <summary>
    /// Each knob of <see cref="SchedulerKnobs"/> the pool sets (the policy, batch and queue limit always, with their
    /// defaults), by the knob, as the CRD field holds it.
    /// </summary>
    public IEnumerable<(SchedulerKnob Knob, JsonValue Value)> Knobs()
    {
        var fields = JsonSerializer.SerializeToNode(
            new SchedulerSpec { Policy = Policy, BatchSize = BatchSize, MaxQueued = MaxQueued, StarvationGuard = StarvationGuard, Laps = Laps, Mlfq = Mlfq },
            FieldsJson)!;
        foreach (var knob in SchedulerKnobs.All)
        {
            var field = knob.CrdField.Split('.').Aggregate<string, JsonNode?>(fields, (node, name) => node?[name]);
            if (field is JsonValue value)
            {
                yield return (knob, value);
            }
        }
    }

    private static readonly JsonSerializerOptions FieldsJson = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
}

public sealed record ResolvedMonitoring(bool ServiceMonitor, string Interval, IDictionary<string, string>? Labels);

/// <summary>The worker pods' NetworkPolicy: on unless turned off; Prometheus runs in a namespace, optionally in pods with these labels.</summary>
public sealed record ResolvedNetworkPolicy(bool Enabled, string PrometheusNamespace, IDictionary<string, string>? PrometheusPodLabels);
