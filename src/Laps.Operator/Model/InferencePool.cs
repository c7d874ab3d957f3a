using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Laps.Operator.Model;

/// <summary>
/// <c>laps.dev/v1alpha1</c> <c>InferencePool</c>: the C# shape of crds/laps.dev_inferencepools.yaml. Defaults live in
/// the CRD (the API server applies them); <see cref="Defaults"/> fills the same values in for objects that skipped
/// the API server (tests, older clients), so the builder never guesses.
/// </summary>
[KubernetesEntity(Group = Group, Kind = KindName, ApiVersion = Version, PluralName = Plural)]
public sealed class InferencePool : IKubernetesObject<V1ObjectMeta>, ISpec<InferencePoolSpec>, IStatus<InferencePoolStatus?>
{
    public const string Group = "laps.dev";
    public const string Version = "v1alpha1";
    public const string KindName = "InferencePool";
    public const string Plural = "inferencepools";
    public const string GroupVersion = Group + "/" + Version;

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KindName;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public InferencePoolSpec Spec { get; set; } = new();

    [JsonPropertyName("status")]
    public InferencePoolStatus? Status { get; set; }
}

public sealed class InferencePoolList : IKubernetesObject<V1ListMeta>, IItems<InferencePool>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = InferencePool.GroupVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "InferencePoolList";

    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<InferencePool> Items { get; set; } = [];
}

public sealed class InferencePoolSpec
{
    [JsonPropertyName("workers")]
    public WorkersSpec? Workers { get; set; }

    [JsonPropertyName("scheduler")]
    public SchedulerSpec? Scheduler { get; set; }

    [JsonPropertyName("monitoring")]
    public MonitoringSpec? Monitoring { get; set; }

    [JsonPropertyName("networkPolicy")]
    public NetworkPolicySpec? NetworkPolicy { get; set; }
}

public static class Engines
{
    public const string Sim = "sim";
    public const string Custom = "custom";
    public const string Vllm = "vllm";
    public const string Sglang = "sglang";

    /// <summary>The engine image a vllm pool runs unless <c>workers.engineImage</c> names another (a release, never a moving tag).</summary>
    public const string VllmImage = "vllm/vllm-openai:v0.18.0";

    /// <summary>The engine image an sglang pool runs unless <c>workers.engineImage</c> names another.</summary>
    public const string SglangImage = "lmsysorg/sglang:v0.5.18";

    /// <summary>Does the pool run a real engine (the engine's image beside the Laps adapter)?</summary>
    public static bool IsReal(string engine) => engine is Vllm or Sglang;
}

public sealed class WorkersSpec
{
    [JsonPropertyName("replicas")]
    public int? Replicas { get; set; }

    [JsonPropertyName("engine")]
    public string? Engine { get; set; }

    [JsonPropertyName("image")]
    public string? Image { get; set; }

    [JsonPropertyName("imagePullPolicy")]
    public string? ImagePullPolicy { get; set; }

    [JsonPropertyName("models")]
    public ModelsSpec? Models { get; set; }

    [JsonPropertyName("speculationLength")]
    public int? SpeculationLength { get; set; }

    [JsonPropertyName("proposer")]
    public string? Proposer { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }

    [JsonPropertyName("maxBatch")]
    public int? MaxBatch { get; set; }

    [JsonPropertyName("sim")]
    public SimSpec? Sim { get; set; }

    [JsonPropertyName("resources")]
    public V1ResourceRequirements? Resources { get; set; }

    [JsonPropertyName("nodeSelector")]
    public IDictionary<string, string>? NodeSelector { get; set; }

    [JsonPropertyName("tolerations")]
    public IList<V1Toleration>? Tolerations { get; set; }

    [JsonPropertyName("args")]
    public IList<string>? Args { get; set; }

    [JsonPropertyName("env")]
    public IList<V1EnvVar>? Env { get; set; }

    [JsonPropertyName("engineImage")]
    public string? EngineImage { get; set; }

    [JsonPropertyName("modelCache")]
    public ModelCacheSpec? ModelCache { get; set; }

    [JsonPropertyName("huggingFaceToken")]
    public SecretKeySpec? HuggingFaceToken { get; set; }
}

/// <summary>Where a real engine keeps downloaded weights (HF_HOME): an emptyDir unless a PersistentVolumeClaim is named.</summary>
public sealed class ModelCacheSpec
{
    [JsonPropertyName("claimName")]
    public string? ClaimName { get; set; }

    [JsonPropertyName("sizeLimit")]
    public ResourceQuantity? SizeLimit { get; set; }
}

/// <summary>A key of a Secret in the pool's namespace.</summary>
public sealed class SecretKeySpec
{
    [JsonPropertyName("secretName")]
    public string? SecretName { get; set; }

    [JsonPropertyName("key")]
    public string? Key { get; set; }
}

public sealed class ModelsSpec
{
    [JsonPropertyName("llm")]
    public string? Llm { get; set; }

    [JsonPropertyName("ssm")]
    public string? Ssm { get; set; }
}

public sealed class SimSpec
{
    [JsonPropertyName("workload")]
    public string? Workload { get; set; }

    [JsonPropertyName("timeScale")]
    public double? TimeScale { get; set; }
}

public sealed class SchedulerSpec
{
    [JsonPropertyName("replicas")]
    public int? Replicas { get; set; }

    [JsonPropertyName("image")]
    public string? Image { get; set; }

    [JsonPropertyName("policy")]
    public string? Policy { get; set; }

    [JsonPropertyName("batchSize")]
    public int? BatchSize { get; set; }

    [JsonPropertyName("maxQueued")]
    public int? MaxQueued { get; set; }

    [JsonPropertyName("starvationGuard")]
    public bool? StarvationGuard { get; set; }

    [JsonPropertyName("laps")]
    public LapsSpec? Laps { get; set; }

    [JsonPropertyName("mlfq")]
    public MlfqSpec? Mlfq { get; set; }

    [JsonPropertyName("service")]
    public ServiceSpec? Service { get; set; }

    [JsonPropertyName("apiKeys")]
    public ApiKeysSpec? ApiKeys { get; set; }

    [JsonPropertyName("resources")]
    public V1ResourceRequirements? Resources { get; set; }

    [JsonPropertyName("nodeSelector")]
    public IDictionary<string, string>? NodeSelector { get; set; }

    [JsonPropertyName("tolerations")]
    public IList<V1Toleration>? Tolerations { get; set; }
}

/// <summary>LAPS-SD knobs (SchedulerKnobs has each one's meaning); null keeps the scheduler's own default.</summary>
public sealed class LapsSpec
{
    [JsonPropertyName("queues")]
    public int? Queues { get; set; }

    [JsonPropertyName("theta0Steps")]
    public double? Theta0Steps { get; set; }

    [JsonPropertyName("ratio")]
    public double? Ratio { get; set; }

    [JsonPropertyName("stabilityWindow")]
    public int? StabilityWindow { get; set; }

    [JsonPropertyName("stabilityTolerance")]
    public double? StabilityTolerance { get; set; }

    [JsonPropertyName("minSteps")]
    public int? MinSteps { get; set; }

    [JsonPropertyName("demoteAfterPerceptible")]
    public bool? DemoteAfterPerceptible { get; set; }

    [JsonPropertyName("variant")]
    public string? Variant { get; set; }

    [JsonPropertyName("estimate")]
    public string? Estimate { get; set; }

    [JsonPropertyName("conditioning")]
    public string? Conditioning { get; set; }

    [JsonPropertyName("reserveTopQueue")]
    public bool? ReserveTopQueue { get; set; }

    [JsonPropertyName("predictBeforeStable")]
    public bool? PredictBeforeStable { get; set; }

    [JsonPropertyName("costAwarePreemption")]
    public bool? CostAwarePreemption { get; set; }

    [JsonPropertyName("acceptancePriorSteps")]
    public double? AcceptancePriorSteps { get; set; }

    [JsonPropertyName("aging")]
    public bool? Aging { get; set; }

    [JsonPropertyName("posteriorCapacity")]
    public int? PosteriorCapacity { get; set; }

    [JsonPropertyName("posteriorNeighbours")]
    public int? PosteriorNeighbours { get; set; }
}

/// <summary>MLFQ knobs; null keeps the scheduler's own default.</summary>
public sealed class MlfqSpec
{
    [JsonPropertyName("levels")]
    public int? Levels { get; set; }

    [JsonPropertyName("baseQuantumSteps")]
    public double? BaseQuantumSteps { get; set; }

    [JsonPropertyName("ratio")]
    public double? Ratio { get; set; }

    [JsonPropertyName("starvationGuard")]
    public bool? StarvationGuard { get; set; }
}

public sealed class ServiceSpec
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }
}

/// <summary>The user's Secret whose key holds the scheduler's API keys (one a line, optionally followed by a tenant).</summary>
public sealed class ApiKeysSpec
{
    [JsonPropertyName("secretName")]
    public string? SecretName { get; set; }

    [JsonPropertyName("key")]
    public string? Key { get; set; }
}

public sealed class MonitoringSpec
{
    [JsonPropertyName("serviceMonitor")]
    public ServiceMonitorSpec? ServiceMonitor { get; set; }
}

public sealed class ServiceMonitorSpec
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }

    [JsonPropertyName("interval")]
    public string? Interval { get; set; }

    [JsonPropertyName("labels")]
    public IDictionary<string, string>? Labels { get; set; }
}

/// <summary>The pool's NetworkPolicy: who may reach the worker pods (docs/security.md).</summary>
public sealed class NetworkPolicySpec
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }

    [JsonPropertyName("prometheus")]
    public PrometheusPeerSpec? Prometheus { get; set; }
}

/// <summary>Where the Prometheus that scrapes the workers' metrics ports runs.</summary>
public sealed class PrometheusPeerSpec
{
    [JsonPropertyName("namespace")]
    public string? Namespace { get; set; }

    [JsonPropertyName("podLabels")]
    public IDictionary<string, string>? PodLabels { get; set; }
}

public sealed class InferencePoolStatus
{
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    [JsonPropertyName("workers")]
    public int? Workers { get; set; }

    [JsonPropertyName("readyWorkers")]
    public int? ReadyWorkers { get; set; }

    [JsonPropertyName("selector")]
    public string? Selector { get; set; }

    [JsonPropertyName("endpoint")]
    public string? Endpoint { get; set; }

    [JsonPropertyName("conditions")]
    public IList<V1Condition>? Conditions { get; set; }
}
