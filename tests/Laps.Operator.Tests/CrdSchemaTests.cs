using System.Text.Json.Nodes;
using Cel;
using k8s;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Operator.Tests;

/// <summary>The CRD's schema and CEL rules accept the examples and reject what they should, with the messages users see.</summary>
public sealed class CrdSchemaTests
{
    private static readonly CrdSchema Schema = CrdSchema.Load();

    public static TheoryData<string> ValidFiles => new(
        Directory.GetFiles("examples", "inferencepool-*.yaml").Concat(Directory.GetFiles("testassets", "pool.yaml", SearchOption.AllDirectories)).Order());

    [Theory]
    [MemberData(nameof(ValidFiles))]
    public void Examples_and_test_pools_are_valid(string path)
    {
        Assert.Empty(Schema.Validate(Yaml.LoadOne(File.ReadAllText(path))));
    }

    [Fact]
    public void The_examples_directory_has_the_cpu_vllm_and_sglang_pools()
    {
        // The other examples (autoscaling) are not pools: tests/Laps.Deploy.Tests checks them.
        Assert.Equal(["inferencepool-cpu-sim.yaml", "inferencepool-sglang.yaml", "inferencepool-vllm-eagle.yaml"], Directory.GetFiles("examples", "inferencepool-*.yaml").Select(Path.GetFileName).Order());
    }

    [Theory]
    [InlineData("workers: {replicas: -1}", "/spec/workers/replicas")]
    [InlineData("workers: {speculationLength: 17}", "/spec/workers/speculationLength")]
    [InlineData("workers: {proposer: medusa}", "/spec/workers/proposer")]
    [InlineData("workers: {engine: tgi}", "/spec/workers/engine")]
    [InlineData("workers: {engine: vllm, models: {llm: m, ssm: s}, modelCache: {sizeLimit: lots}}", "/spec/workers/modelCache/sizeLimit")]
    [InlineData("workers: {engine: vllm, models: {llm: m, ssm: s}, huggingFaceToken: {key: token}}", "/spec/workers/huggingFaceToken")]
    [InlineData("workers: {engine: vllm, models: {llm: m, ssm: s}, huggingFaceToken: {secretName: HF}}", "/spec/workers/huggingFaceToken/secretName")]
    [InlineData("workers: {sim: {timeScale: 0}}", "/spec/workers/sim/timeScale")]
    [InlineData("workers: {replicaz: 2}", "/spec/workers")]
    [InlineData("workers: {resources: {limits: {memory: lots}}}", "/spec/workers/resources/limits/memory")]
    [InlineData("scheduler: {replicas: 0}", "/spec/scheduler/replicas")]
    [InlineData("scheduler: {policy: oracle}", "/spec/scheduler/policy")]
    [InlineData("scheduler: {laps: {stabilityTolerance: 2}}", "/spec/scheduler/laps/stabilityTolerance")]
    [InlineData("scheduler: {service: {type: ExternalName}}", "/spec/scheduler/service/type")]
    [InlineData("monitoring: {serviceMonitor: {interval: 15 seconds}}", "/spec/monitoring/serviceMonitor/interval")]
    [InlineData("scheduler: {apiKeys: {key: keys}}", "/spec/scheduler/apiKeys")]
    [InlineData("scheduler: {apiKeys: {secretName: Team_Keys}}", "/spec/scheduler/apiKeys/secretName")]
    [InlineData("scheduler: {apiKeys: {secretName: team-keys, key: keys/main}}", "/spec/scheduler/apiKeys/key")]
    [InlineData("networkPolicy: {enabled: maybe}", "/spec/networkPolicy/enabled")]
    [InlineData("networkPolicy: {prometheus: {namespace: Monitoring}}", "/spec/networkPolicy/prometheus/namespace")]
    [InlineData("networkPolicy: {prometheus: {podLabels: {app: 1}}}", "/spec/networkPolicy/prometheus/podLabels/app")]
    public void Schema_rejects_values_out_of_bounds_unknown_fields_and_bad_enums(string spec, string location)
    {
        var errors = Schema.Validate(Pool(spec));

        Assert.Contains(errors, e => e.StartsWith(location, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("workers: {engine: custom}", "workers.image is required when workers.engine is custom")]
    [InlineData("workers: {engine: custom, image: x, sim: {workload: chat}}", "workers.sim applies only to engine sim")]
    [InlineData("workers: {engine: vllm, proposer: ngram}", "workers.models.llm is required when workers.engine is vllm or sglang")]
    [InlineData("workers: {engine: sglang, models: {llm: m}}", "workers.models.ssm is required when workers.proposer is eagle or draft on engine vllm or sglang")]
    [InlineData("workers: {engine: vllm, proposer: draft, models: {llm: m}}", "workers.models.ssm is required when workers.proposer is eagle or draft on engine vllm or sglang")]
    [InlineData("workers: {engine: sim, engineImage: vllm/vllm-openai:v0.18.0}", "workers.engineImage, workers.modelCache and workers.huggingFaceToken apply only to engine vllm or sglang")]
    [InlineData("workers: {engine: custom, image: x, huggingFaceToken: {secretName: hf}}", "workers.engineImage, workers.modelCache and workers.huggingFaceToken apply only to engine vllm or sglang")]
    [InlineData("workers: {engine: vllm, port: 9400, models: {llm: m, ssm: s}}", "workers.port must not be the engine's port (vllm 8000, sglang 30000) or the engine metrics port 9400")]
    [InlineData("workers: {engine: vllm, port: 8000, models: {llm: m, ssm: s}}", "workers.port must not be the engine's port (vllm 8000, sglang 30000) or the engine metrics port 9400")]
    [InlineData("workers: {engine: sglang, port: 30000, models: {llm: m, ssm: s}}", "workers.port must not be the engine's port (vllm 8000, sglang 30000) or the engine metrics port 9400")]
    [InlineData("scheduler: {policy: srpt, laps: {queues: 2}}", "scheduler.laps applies only to policy laps")]
    [InlineData("scheduler: {policy: laps, mlfq: {levels: 2}}", "scheduler.mlfq applies only to policy mlfq")]
    [InlineData("scheduler: {starvationGuard: true}", "scheduler.starvationGuard applies only to policy sjf or srpt")]
    [InlineData("scheduler: {laps: {posteriorCapacity: 100, posteriorNeighbours: 200}}", "scheduler.laps.posteriorCapacity must be at least scheduler.laps.posteriorNeighbours")]
    [InlineData("scheduler: {batchSize: 128}", "scheduler.batchSize must not exceed workers.maxBatch")]
    [InlineData("workers: {maxBatch: 4}\n  scheduler: {batchSize: 8}", "scheduler.batchSize must not exceed workers.maxBatch")]
    public void CEL_rules_reject_cross_field_mistakes_and_the_operator_agrees(string spec, string message)
    {
        var pool = Pool(spec);

        var celErrors = Schema.Validate(pool);
        var operatorErrors = SpecValidator.Validate(ResolvedPool.From(KubernetesJson.Deserialize<InferencePool>(pool.ToJsonString()), new OperatorSettings()));

        Assert.Contains(celErrors, e => e.StartsWith(message, StringComparison.Ordinal));
        Assert.Contains(operatorErrors, e => e.StartsWith(message.Split(' ')[0], StringComparison.Ordinal) && e.Contains(message.Split(' ')[^1], StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("workers: {engine: custom, image: registry/x:1}")]
    [InlineData("workers: {engine: vllm, models: {llm: m, ssm: s}}")]
    [InlineData("workers: {engine: sglang, proposer: ngram, models: {llm: m}}")]
    [InlineData("workers: {engine: sglang, port: 8000, models: {llm: m, ssm: s}}")]
    [InlineData("workers: {engine: sim, port: 9400}")]
    [InlineData("workers: {engine: vllm, models: {llm: m, ssm: s}, engineImage: x, modelCache: {claimName: c, sizeLimit: 40Gi}, huggingFaceToken: {secretName: hf}}")]
    [InlineData("scheduler: {policy: laps, laps: {queues: 2}}")]
    [InlineData("scheduler: {policy: mlfq, mlfq: {levels: 2, starvationGuard: true}}")]
    [InlineData("scheduler: {policy: srpt, starvationGuard: true}")]
    [InlineData("scheduler: {laps: {posteriorCapacity: 200, posteriorNeighbours: 200}}")]
    [InlineData("workers: {maxBatch: 8}")]
    [InlineData("workers: {replicas: 0}")]
    [InlineData("scheduler: {service: {type: LoadBalancer}, apiKeys: {secretName: team.keys-1, key: tenants_v2.txt}}")]
    [InlineData("networkPolicy: {enabled: false, prometheus: {namespace: kube-prometheus, podLabels: {app.kubernetes.io/name: prometheus}}}")]
    public void CEL_rules_accept_the_corresponding_valid_specs(string spec)
    {
        Assert.Empty(Schema.Validate(Pool(spec)));
    }

    [Fact]
    public void Every_CEL_rule_compiles_with_the_Cel_package()
    {
        var env = new CelEnvironment(null, "");
        var rules = Schema.RuleTexts().ToList();

        Assert.Equal(11, rules.Count);
        Assert.All(rules, r => Assert.NotNull(env.Compile(r)));
    }

    [Fact]
    public void The_CRD_names_its_short_name_scale_and_status_subresources_and_columns()
    {
        var crd = Schema.Crd;
        var version = crd["spec"]!["versions"]![0]!;

        Assert.Equal("inferencepools.laps.dev", crd["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal(["ipool"], crd["spec"]!["names"]!["shortNames"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(
            (".spec.workers.replicas", ".status.workers", ".status.selector"),
            (version["subresources"]!["scale"]!["specReplicasPath"]!.GetValue<string>(),
             version["subresources"]!["scale"]!["statusReplicasPath"]!.GetValue<string>(),
             version["subresources"]!["scale"]!["labelSelectorPath"]!.GetValue<string>()));
        Assert.NotNull(version["subresources"]!["status"]);
        Assert.Equal(
            ["Policy", "Workers", "Ready", "Status", "Endpoint", "Age"],
            version["additionalPrinterColumns"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
    }

    [Fact]
    public void Defaults_in_the_CRD_match_the_operators_own()
    {
        var defaulted = Yaml.LoadOne("apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {name: p}\nspec: {}\n");
        var crdView = DefaultedByCrd(defaulted);
        var fromCrd = ResolvedPool.From(KubernetesJson.Deserialize<InferencePool>(crdView.ToJsonString()), new OperatorSettings());
        var fromOperator = ResolvedPool.From(new InferencePool { Metadata = new k8s.Models.V1ObjectMeta { Name = "p" } }, new OperatorSettings());

        // Lists compare by reference in records: blank them alike.
        string[] args = [];
        k8s.Models.V1EnvVar[] env = [];
        Assert.Equal(fromOperator.Workers with { HasSimSettings = false, Args = args, Env = env }, fromCrd.Workers with { HasSimSettings = false, Args = args, Env = env });
        Assert.Equal(fromOperator.Scheduler, fromCrd.Scheduler);
        Assert.Equal(fromOperator.Monitoring.ServiceMonitor, fromCrd.Monitoring.ServiceMonitor);
        Assert.Equal(fromOperator.Monitoring.Interval, fromCrd.Monitoring.Interval);
        Assert.Equal(fromOperator.NetworkPolicy, fromCrd.NetworkPolicy);
    }

    private static JsonNode Pool(string spec)
        => Yaml.LoadOne($"apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {{name: p, namespace: default}}\nspec:\n  {spec}\n");

    // What the API server stores: the instance with the schema's defaults filled in.
    private static JsonNode DefaultedByCrd(JsonNode instance)
    {
        var copy = instance.DeepClone();
        typeof(CrdSchema).GetMethod("ApplyDefaults", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, [Schema.Crd["spec"]!["versions"]![0]!["schema"]!["openAPIV3Schema"]!.AsObject(), copy]);
        return copy;
    }
}
