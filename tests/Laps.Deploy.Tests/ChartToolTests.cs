namespace Laps.Deploy.Tests;

/// <summary>The chart passes the real tools: helm lint, the Kubernetes schemas, yamllint.</summary>
public class ChartToolTests
{
    public static TheoryData<string> ValueSets => [Chart.Default, Chart.AllFeatures];

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void Helm_lint_strict_passes(string values)
    {
        var result = Tools.RunHelm(["lint", "--strict", Chart.Dir, "--namespace", Rendered.Namespace, .. Chart.ValuesArgs(values)]);

        Assert.True(result.ExitCode == 0, result.Output);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void Every_rendered_document_matches_the_schema_of_its_kind(string values)
    {
        var rendered = Chart.Get(values);

        var result = Tools.Run(Tools.Node, [Tools.InRepo("scripts", "validate-manifests.mjs"), "--modules", Tools.NodeModules, "-"],
            stdin: rendered.Text);

        Assert.True(result.ExitCode == 0, result.Output);
        // One "ok" line per document: none was skipped.
        Assert.Equal(rendered.Documents.Count, result.Stdout.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_schema_check_rejects_a_document_that_breaks_its_schema()
    {
        const string bad = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: broken
            spec:
              replicas: two
              selector: {}
              template: {}
            """;

        var result = Tools.Run(Tools.Node, [Tools.InRepo("scripts", "validate-manifests.mjs"), "--modules", Tools.NodeModules, "-"],
            stdin: bad);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("/spec/replicas must be integer", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void Rendered_manifests_pass_yamllint_relaxed(string values)
    {
        var result = Tools.Run(Tools.Yamllint, ["-f", "parsable", "-d", "relaxed", "-"], stdin: Chart.Get(values).Text);

        Assert.True(result.ExitCode == 0, result.Output);
    }

    [Fact]
    public void The_canonical_crd_matches_the_CustomResourceDefinition_schema()
    {
        var result = Tools.Run(Tools.Node, [Tools.InRepo("scripts", "validate-manifests.mjs"), "--modules", Tools.NodeModules,
            Tools.InRepo("crds", "laps.dev_inferencepools.yaml")]);

        Assert.True(result.ExitCode == 0, result.Output);
    }

    public static TheoryData<string> OperatorGoldens => new(
        Directory.GetDirectories(Tools.InRepo("tests", "Laps.Operator.Tests", "testassets")).Select(Path.GetFileName).Order()!);

    // What the operator creates for each test pool (its golden files): the Secret, the NetworkPolicy and the rest.
    [Theory]
    [MemberData(nameof(OperatorGoldens))]
    public void The_operators_golden_objects_match_the_schemas_of_their_kinds(string pool)
    {
        var path = Tools.InRepo("tests", "Laps.Operator.Tests", "testassets", pool, "expected.yaml");

        var result = Tools.Run(Tools.Node, [Tools.InRepo("scripts", "validate-manifests.mjs"), "--modules", Tools.NodeModules, path]);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("ok networking.k8s.io/v1 NetworkPolicy", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok v1 Secret", result.Stdout, StringComparison.Ordinal);
    }

    // What the operator (and `laps operator render`) creates for every example pool: the vLLM and SGLang pods and the rest.
    [Fact]
    public void The_example_pools_objects_match_the_schemas_of_their_kinds()
    {
        var files = Directory.GetFiles(Tools.InRepo("examples"), "inferencepool-*.yaml").Order(StringComparer.Ordinal).ToList();
        var objects = files.Select(file =>
        {
            var pool = k8s.KubernetesYaml.Deserialize<Laps.Operator.Model.InferencePool>(File.ReadAllText(file), strict: true);
            pool.Metadata.Uid = "00000000-0000-0000-0000-000000000001"; // as the API server assigns it
            return k8s.KubernetesYaml.SerializeAll(Laps.Operator.Desired.DesiredState.Build(
                pool, new Laps.Operator.OperatorSettings(), new Laps.Operator.ClusterCapabilities(ServiceMonitorCrd: true)));
        }).ToList();
        var text = string.Join("---\n", objects);

        var result = Tools.Run(Tools.Node, [Tools.InRepo("scripts", "validate-manifests.mjs"), "--modules", Tools.NodeModules, "-"], stdin: text);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal(new Rendered(text).Documents.Count, result.Stdout.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
        Assert.Contains("ok apps/v1 Deployment llama-vllm-workers", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok apps/v1 Deployment llama-sglang-workers", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Promtool_accepts_the_alert_rules()
    {
        var result = Tools.Run(Tools.Promtool, ["check", "rules", Tools.InRepo("monitoring", "prometheus", "alerts.yaml")]);

        Assert.True(result.ExitCode == 0, result.Output);
    }
}
