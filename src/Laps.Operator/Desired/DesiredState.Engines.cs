using System.Globalization;
using System.Text.Json.Nodes;
using k8s.Models;
using Laps.Operator.Model;

namespace Laps.Operator.Desired;

/// <summary>
/// Worker pods of a real engine (docs/engines.md "An engine pod"): the engine's official image serving its HTTP API on
/// the pod's loopback only, and the Laps adapter (<c>laps worker --engine vllm|sglang</c>) serving laps.worker.v1 to the
/// scheduler with the pool's worker token. The engine's flags repeat what the adapter is told (proposer, k, batch cap).
/// The adapter also serves the engine's <c>/metrics</c> on <see cref="EngineMetricsPort"/> (named
/// <see cref="EngineMetricsPortName"/>), which the workers' Service exposes and the ServiceMonitor P-engines scrapes.
/// </summary>
public static partial class DesiredState
{
    public const string EngineContainer = "engine";

    /// <summary>The adapter's engine metrics proxy (<c>laps worker --engine-metrics-port</c>) in an engine pod.</summary>
    public const int EngineMetricsPort = 9400;

    public const string EngineMetricsPortName = "engine-metrics";

    public const string ModelCacheDirectory = "/model-cache";

    // A model download and load may take long: the startup probe allows 30 minutes (180 × 10 s) before the kubelet restarts the engine.
    public const int EngineStartupSeconds = 30 * 60;

    private const string ModelCacheVolumeName = "model-cache";
    private const string ShmVolumeName = "dshm";

    private static V1Deployment EngineWorkerDeployment(ResolvedPool p)
    {
        var w = p.Workers;
        var engineUrl = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{w.EnginePort}");
        var adapter = new V1Container
        {
            Name = PoolLabels.Worker,
            Image = w.Image,
            ImagePullPolicy = w.ImagePullPolicy,
            Args =
            [
                "worker",
                "--engine", w.Engine,
                "--engine-url", engineUrl,
                "--host", "0.0.0.0",
                "--port", Invariant(w.Port),
                "--proposer", w.Proposer,
                "--k", Invariant(w.SpeculationLength),
                "--max-batch", Invariant(w.MaxBatch),
                "--token-file", WorkerTokenFile,
                "--engine-metrics-port", Invariant(EngineMetricsPort),
            ],
            Ports =
            [
                new V1ContainerPort { Name = "grpc", ContainerPort = w.Port, Protocol = "TCP" },
                new V1ContainerPort { Name = EngineMetricsPortName, ContainerPort = EngineMetricsPort, Protocol = "TCP" },
            ],
            Env = [.. PodIdentity()],
            // The adapter answers Describe with UNAVAILABLE until the engine is healthy; the pod's readiness is the engine's.
            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "grpc" }, PeriodSeconds = 5, FailureThreshold = 3 },
            LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "grpc" }, InitialDelaySeconds = 10, PeriodSeconds = 10, FailureThreshold = 6 },
            SecurityContext = ContainerSecurity(),
            VolumeMounts = [WorkerTokenMount(), new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
        };

        // The engine binds the loopback address, which the kubelet's HTTP probes cannot reach (they dial the pod IP):
        // its /health is probed from inside the container, with the Python both images ship.
        V1Probe Health(int period, int failures) => new()
        {
            Exec = new V1ExecAction
            {
                Command =
                [
                    "python3", "-c",
                    $"import urllib.request; urllib.request.urlopen('{engineUrl}/health', timeout=5)",
                ],
            },
            PeriodSeconds = period,
            TimeoutSeconds = 10,
            FailureThreshold = failures,
        };

        var engine = new V1Container
        {
            Name = EngineContainer,
            Image = w.EngineImage,
            ImagePullPolicy = w.ImagePullPolicy,
            Command = w.Engine == Engines.Vllm ? ["vllm", "serve"] : ["python3", "-m", "sglang.launch_server"],
            Args = [.. w.Engine == Engines.Vllm ? VllmArgs(w) : SglangArgs(w), .. w.Args],
            Env = [.. EngineEnv(w), .. w.Env],
            Resources = w.Resources,
            StartupProbe = Health(10, EngineStartupSeconds / 10),
            ReadinessProbe = Health(10, 3),
            LivenessProbe = Health(30, 4),
            SecurityContext = EngineSecurity(),
            VolumeMounts =
            [
                new V1VolumeMount { Name = ModelCacheVolumeName, MountPath = ModelCacheDirectory },
                new V1VolumeMount { Name = ShmVolumeName, MountPath = "/dev/shm" },
            ],
        };

        var modelCache = new V1Volume
        {
            Name = ModelCacheVolumeName,
            PersistentVolumeClaim = w.ModelCacheClaim is { } claim ? new V1PersistentVolumeClaimVolumeSource { ClaimName = claim } : null,
            EmptyDir = w.ModelCacheClaim is null ? new V1EmptyDirVolumeSource { SizeLimit = w.ModelCacheSizeLimit } : null,
        };

        // Tensor-parallel workers and PyTorch's data loaders share memory through /dev/shm, which a container gets 64 MiB of.
        var shm = new V1Volume { Name = ShmVolumeName, EmptyDir = new V1EmptyDirVolumeSource { Medium = "Memory" } };
        var spec = PodSpec(adapter, serviceAccount: null, w.NodeSelector, w.Tolerations, [WorkerTokenVolume(p), modelCache, shm]);
        spec.Containers = [engine, adapter];

        // The engine images run as root: only the adapter container runs as non-root (EngineSecurity says why).
        spec.SecurityContext = new V1PodSecurityContext { SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" } };

        // A GPU worker replaced in place, never one more beside it: a surge pod would wait for a free GPU.
        return WorkersDeployment(p, spec, new V1DeploymentStrategy
        {
            Type = "RollingUpdate",
            RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = 0, MaxUnavailable = 1 },
        });
    }

    // vllm serve (vllm/entrypoints/cli/serve.py; flags of vllm/engine/arg_utils.py and vllm/entrypoints/openai/cli_args.py).
    private static List<string> VllmArgs(ResolvedWorkers w)
    {
        List<string> args =
        [
            w.Llm,
            "--host", "127.0.0.1",
            "--port", Invariant(w.EnginePort),
            "--max-num-seqs", Invariant(w.MaxBatch),
            "--enable-prefix-caching",
            "--stream-interval", "1",
            "--enable-prompt-tokens-details",
        ];
        // A draft model names no method: vLLM infers it from the model (vllm/config/speculative.py).
        var config = new JsonObject();
        if (w.Proposer is "eagle" or "ngram")
        {
            config["method"] = w.Proposer;
        }

        if (w.Ssm is { } ssm && w.Proposer != "ngram")
        {
            config["model"] = ssm;
        }

        config["num_speculative_tokens"] = w.SpeculationLength;
        if (w.Proposer == "ngram")
        {
            config["prompt_lookup_max"] = 4;
        }

        args.AddRange(["--speculative-config", config.ToJsonString()]);
        return args;
    }

    // python -m sglang.launch_server (python/sglang/srt/server_args.py). Metrics are off unless asked for; the radix
    // (prefix) cache is on unless --disable-radix-cache.
    private static List<string> SglangArgs(ResolvedWorkers w)
    {
        List<string> args =
        [
            "--model-path", w.Llm,
            "--host", "127.0.0.1",
            "--port", Invariant(w.EnginePort),
            "--max-running-requests", Invariant(w.MaxBatch),
            "--stream-interval", "1",
            "--enable-metrics",
        ];
        switch (w.Proposer)
        {
            case "ngram":
                args.AddRange(["--speculative-algorithm", "NGRAM"]);
                break;
            default:
                // A chain of k drafts (top-k 1): k + 1 tokens verified per step, as the adapter counts them.
                args.AddRange(["--speculative-algorithm", w.Proposer == "eagle" ? "EAGLE" : "STANDALONE"]);
                args.AddRange(["--speculative-draft-model-path", w.Ssm ?? ""]);
                args.AddRange(["--speculative-num-steps", Invariant(w.SpeculationLength), "--speculative-eagle-topk", "1"]);
                break;
        }

        args.AddRange(["--speculative-num-draft-tokens", Invariant(w.SpeculationLength + 1)]);
        return args;
    }

    private static IEnumerable<V1EnvVar> EngineEnv(ResolvedWorkers w)
    {
        yield return new V1EnvVar { Name = "HF_HOME", Value = ModelCacheDirectory };
        if (w.HuggingFaceTokenSecret is { Length: > 0 } secret)
        {
            yield return new V1EnvVar
            {
                Name = "HF_TOKEN",
                ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret, Key = w.HuggingFaceTokenKey } },
            };
        }
    }

    /// <summary>
    /// The engine container: no privilege escalation, no capabilities, the runtime's seccomp profile. Not the restricted
    /// profile's non-root user and read-only root: vllm/vllm-openai and lmsysorg/sglang declare no user (they run as
    /// root) and write caches under the home directory and Python's packages (Triton and torch.compile kernels, the
    /// FlashInfer JIT), which an arbitrary non-root user cannot.
    /// </summary>
    private static V1SecurityContext EngineSecurity() => new()
    {
        AllowPrivilegeEscalation = false,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };
}
