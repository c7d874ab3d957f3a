using System.Text.Json.Nodes;

namespace Laps.Deploy.Tests;

/// <summary>
/// examples/hpa-queue-depth.yaml: a HorizontalPodAutoscaler on the example pool's queue depth per worker, served by the
/// prometheus-adapter rule of examples/prometheus-adapter-values.yaml. Its query runs against a real Prometheus in
/// tests/Laps.Monitoring.Tests (LiveQueryTests).
/// </summary>
public class AutoscalingTests
{
    private static readonly JsonObject Hpa = Pools.Examples.Find("HorizontalPodAutoscaler", Pools.ExampleName);
    private static readonly JsonObject Crd = Yaml.Load(File.ReadAllText(Tools.InRepo("crds", "laps.dev_inferencepools.yaml")))!.AsObject();
    private static readonly JsonObject AdapterRule = Assert.Single(
        Yaml.Load(File.ReadAllText(Tools.InRepo("examples", "prometheus-adapter-values.yaml")))!["rules"]!["custom"]!.AsArray())!.AsObject();

    [Fact]
    public void The_example_matches_the_HorizontalPodAutoscaler_schema()
    {
        var result = Tools.Run(Tools.Node, [Tools.InRepo("scripts", "validate-manifests.mjs"), "--modules", Tools.NodeModules, Pools.AutoscalerFile]);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal($"ok autoscaling/v2 HorizontalPodAutoscaler {Pools.ExampleName}", result.Stdout.Trim());
    }

    [Fact]
    public void It_scales_the_example_pool_through_the_InferencePools_scale_subresource()
    {
        var target = Hpa["spec"]!["scaleTargetRef"]!;
        var served = Crd["spec"]!["versions"]!.AsArray().Single(v => (string?)v!["served"] == "true")!;
        var scale = served["subresources"]!["scale"]!;

        Assert.Equal($"{Crd["spec"]!["group"]}/{served["name"]}", (string?)target["apiVersion"]);
        Assert.Equal((string?)Crd["spec"]!["names"]!["kind"], (string?)target["kind"]);
        Assert.Equal(Pools.ExampleName, (string?)target["name"]);
        Assert.Equal(".spec.workers.replicas", (string?)scale["specReplicasPath"]);
        // The HPA reads the pods' selector from the scale subresource and refuses a target without one.
        Assert.Equal(".status.selector", (string?)scale["labelSelectorPath"]);
    }

    [Fact]
    public void Its_metric_is_the_pools_queue_depth_per_worker_as_the_adapter_rule_serves_it()
    {
        var metric = Assert.Single(Hpa["spec"]!["metrics"]!.AsArray())!;
        var overrides = AdapterRule["resources"]!["overrides"]!;

        Assert.Equal("Object", (string?)metric["type"]);
        Assert.True(JsonNode.DeepEquals(Hpa["spec"]!["scaleTargetRef"], metric["object"]!["describedObject"]), "the metric describes another object than the one scaled");
        // AverageValue divides the object's value by the current replicas: the queue depth per worker.
        Assert.Equal("AverageValue", (string?)metric["object"]!["target"]!["type"]);
        Assert.Equal((string?)AdapterRule["name"]!["as"], (string?)metric["object"]!["metric"]!["name"]);
        Assert.StartsWith("laps_requests_queued{", (string?)AdapterRule["seriesQuery"], StringComparison.Ordinal);
        Assert.Equal("laps.dev", (string?)overrides["pool"]!["group"]);
        Assert.Equal((string?)Crd["spec"]!["names"]!["plural"], (string?)overrides["pool"]!["resource"]);
        Assert.Equal("namespace", (string?)overrides["namespace"]!["resource"]);
        Assert.Equal("sum by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})", (string?)AdapterRule["metricsQuery"]);
    }

    [Fact]
    public void It_keeps_two_workers_and_scales_down_one_worker_at_a_time_as_the_disruption_budget_allows()
    {
        var spec = Hpa["spec"]!;
        var budget = Pools.Examples.Find("PodDisruptionBudget", $"{Pools.ExampleName}-workers");

        Assert.True(int.Parse((string)spec["minReplicas"]!, System.Globalization.CultureInfo.InvariantCulture) >= 2, "a lone worker has nobody to hand its sequences to");
        var down = spec["behavior"]!["scaleDown"]!;
        Assert.All(down["policies"]!.AsArray(), p => Assert.Equal(("Pods", "1"), ((string?)p!["type"], (string?)p["value"])));
        Assert.Equal("1", (string?)budget["spec"]!["maxUnavailable"]);
        Assert.True(int.Parse((string)down["stabilizationWindowSeconds"]!, System.Globalization.CultureInfo.InvariantCulture) >= 60);
    }
}
