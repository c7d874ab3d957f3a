using System.CommandLine;
using k8s;
using Laps.Cli.Commands;
using Laps.Operator;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Cli.Tests;

/// <summary>
/// <c>laps operator render</c>: the operator's own objects for each pool, offline. tests/Laps.Deploy.Tests checks the same
/// objects of every example pool against the Kubernetes schemas.
/// </summary>
public sealed class OperatorRenderCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("laps-render-");

    public static TheoryData<string> ExamplePools => new(ExampleFiles());

    private static IEnumerable<string> ExampleFiles() => (
        Directory.GetFiles(Path.Combine(RepoRoot(), "examples"), "*.yaml")
            .Where(f => File.ReadAllText(f).Contains("\nkind: InferencePool\n", StringComparison.Ordinal)).Order(StringComparer.Ordinal));

    [Fact]
    public void The_example_pools_are_the_vllm_sglang_and_cpu_ones()
    {
        Assert.Equal(
            ["inferencepool-cpu-sim.yaml", "inferencepool-sglang.yaml", "inferencepool-vllm-eagle.yaml"],
            ExampleFiles().Select(Path.GetFileName));
    }

    [Theory]
    [MemberData(nameof(ExamplePools))]
    public void Each_example_pool_renders_as_the_operator_builds_it(string file)
    {
        var (exitCode, stdout, stderr) = Run("operator", "render", "-f", file, "--default-image", "registry/laps:1");

        Assert.Equal((0, ""), (exitCode, stderr));
        var pool = KubernetesYaml.Deserialize<InferencePool>(File.ReadAllText(file), strict: true);
        pool.Metadata.NamespaceProperty = "default";
        var objects = DesiredState.Build(pool, new OperatorSettings { DefaultImage = "registry/laps:1" }, new ClusterCapabilities(ServiceMonitorCrd: true));
        foreach (var o in objects)
        {
            o.Metadata.OwnerReferences = null; // the pool has no uid outside a cluster
        }

        Assert.Equal(KubernetesYaml.SerializeAll(objects), stdout);
        Assert.Contains("kind: ServiceMonitor", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_files_and_documents_render_in_order_in_the_namespace_given_or_their_own()
    {
        var two = Write("two.yaml", Pool("a", "spec: {}") + "---\n" + Pool("b", "spec: {workers: {replicas: 3}}", ns: "serving"));
        var one = Write("one.yaml", Pool("c", "spec: {}"));

        var (exitCode, stdout, _) = Run("operator", "render", "-f", two, "-f", one, "--namespace", "team");

        Assert.Equal(0, exitCode);
        var objects = KubernetesYaml.LoadAllFromString(stdout).Cast<IKubernetesObject<k8s.Models.V1ObjectMeta>>().ToList();
        Assert.Equal(
            ["a-scheduler", "b-scheduler", "c-scheduler"],
            objects.Where(o => o.Kind == "Deployment" && o.Metadata.Name.EndsWith("-scheduler", StringComparison.Ordinal)).Select(o => o.Metadata.Name));
        Assert.Equal(
            ["team", "serving", "team"],
            objects.Where(o => o.Kind == "Deployment" && o.Metadata.Name.EndsWith("-scheduler", StringComparison.Ordinal)).Select(o => o.Metadata.NamespaceProperty));
        Assert.Equal(3, objects.OfType<k8s.Models.V1Deployment>().Single(d => d.Metadata.Name == "b-workers").Spec.Replicas);
    }

    [Fact]
    public void A_vLLM_pool_renders_the_engine_beside_the_adapter()
    {
        var file = Write("vllm.yaml", Pool("llama", "spec: {workers: {engine: vllm, models: {llm: m, ssm: s}}}"));

        var (_, stdout, _) = Run("operator", "render", "-f", file);

        var workers = KubernetesYaml.LoadAllFromString(stdout).OfType<k8s.Models.V1Deployment>().Single(d => d.Metadata.Name == "llama-workers");
        Assert.Equal(["engine", "worker"], workers.Spec.Template.Spec.Containers.Select(c => c.Name));
        Assert.Equal(Engines.VllmImage, workers.Spec.Template.Spec.Containers[0].Image);
    }

    [Theory]
    [InlineData("bad.yaml", "a: [\n", "laps operator render: -f {0}: not YAML (line 2)")]
    [InlineData("hpa.yaml", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n",
        "laps operator render: -f {0}: document 1 is autoscaling/v2 HorizontalPodAutoscaler, not an InferencePool (laps.dev/v1alpha1)")]
    [InlineData("second.yaml", "apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {name: ok}\n---\nkind: ConfigMap\n",
        "laps operator render: -f {0}: document 2 is (no apiVersion) ConfigMap, not an InferencePool")]
    [InlineData("unknown.yaml", "apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {name: x}\nspec: {workerz: {}}\n",
        "laps operator render: -f {0}: not an InferencePool: Property 'workerz' not found")]
    [InlineData("invalid.yaml", "apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {name: x}\nspec: {workers: {engine: sglang, proposer: ngram}}\n",
        "laps operator render: -f {0}: InferencePool x is invalid: workers.models.llm is required when workers.engine is vllm or sglang")]
    [InlineData("nameless.yaml", "apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nspec: {}\n", "laps operator render: -f {0}: an InferencePool has no metadata.name")]
    [InlineData("empty.yaml", "", "laps operator render: -f {0}: no InferencePool in the file")]
    public void Bad_input_is_one_line_naming_the_file_and_exit_code_2(string name, string content, string message)
    {
        var file = Write(name, content);

        var (exitCode, stdout, stderr) = Run("operator", "render", "-f", file);

        Assert.Equal((2, ""), (exitCode, stdout));
        Assert.StartsWith(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, file), stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var missing = Path.Combine(_dir.FullName, "missing.yaml");

        var (exitCode, _, stderr) = Run("operator", "render", "-f", missing);

        Assert.Equal(2, exitCode);
        Assert.StartsWith($"laps operator render: -f {missing}: ", stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private static string Pool(string name, string spec, string? ns = null)
        => $"apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {{name: {name}{(ns is null ? "" : ", namespace: " + ns)}}}\n{spec}\n";

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = new LapsCommand().Invoke(args, new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Operator.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Operator.sln above {AppContext.BaseDirectory}");
    }
}
