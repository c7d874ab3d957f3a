using System.Text.Json.Nodes;

namespace Laps.Deploy.Tests;

/// <summary>Metrics Service, ServiceMonitor, PrometheusRule and dashboard ConfigMap.</summary>
public class MonitoringTests
{
    private static readonly Rendered Defaults = Chart.Get(Chart.Default);
    private static readonly Rendered All = Chart.Get(Chart.AllFeatures);

    [Theory]
    [InlineData("ServiceMonitor")]
    [InlineData("PrometheusRule")]
    public void Prometheus_Operator_objects_are_off_by_default_so_the_chart_installs_without_its_crds(string kind)
    {
        Assert.Empty(Defaults.OfKind(kind));
        Assert.Single(All.OfKind(kind));
    }

    [Fact]
    public void The_dashboard_ConfigMap_is_off_by_default()
    {
        Assert.DoesNotContain(Defaults.OfKind("ConfigMap"), c => (string?)c["metadata"]!["name"] == $"{Rendered.Release}-dashboard");
    }

    [Fact]
    public void The_metrics_Service_exposes_http_metrics_and_selects_the_operator_pods()
    {
        var service = Defaults.Find("Service", $"{Rendered.Release}-metrics");
        var port = Assert.Single(service["spec"]!["ports"]!.AsArray())!;
        var podLabels = Defaults.OperatorDeployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();

        Assert.Equal("http-metrics", (string?)port["name"]);
        Assert.Equal("http-metrics", (string?)port["targetPort"]);
        Assert.All(service["spec"]!["selector"]!.AsObject(), s => Assert.Equal((string?)s.Value, (string?)podLabels[s.Key]));
        Assert.Equal("true", (string?)service["spec"]!["publishNotReadyAddresses"]);
    }

    [Fact]
    public void The_ServiceMonitor_scrapes_the_metrics_Services_http_metrics_port()
    {
        var monitor = All.Find("ServiceMonitor", Rendered.Release);
        var service = All.Find("Service", $"{Rendered.Release}-metrics");
        var endpoint = Assert.Single(monitor["spec"]!["endpoints"]!.AsArray())!;

        Assert.Equal("http-metrics", (string?)endpoint["port"]);
        Assert.Equal("/metrics", (string?)endpoint["path"]);
        Assert.Equal("15s", (string?)endpoint["interval"]);
        Assert.All(monitor["spec"]!["selector"]!["matchLabels"]!.AsObject(),
            l => Assert.Equal((string?)l.Value, (string?)service["metadata"]!["labels"]![l.Key]));
        Assert.Equal("kube-prometheus-stack", (string?)monitor["metadata"]!["labels"]!["release"]);
    }

    [Fact]
    public void The_PrometheusRule_carries_the_groups_of_the_alerts_file()
    {
        var rule = All.Find("PrometheusRule", Rendered.Release);
        var file = Yaml.Load(File.ReadAllText(Tools.InRepo("monitoring", "prometheus", "alerts.yaml")))!;

        // Helm re-serialises with sorted keys; the content must be the same.
        Assert.True(JsonNode.DeepEquals(file["groups"], rule["spec"]!["groups"]),
            $"{file["groups"]!.ToJsonString()}\n!=\n{rule["spec"]!["groups"]!.ToJsonString()}");
    }

    [Fact]
    public void The_dashboard_ConfigMap_holds_the_dashboard_json_verbatim_with_the_sidecar_label()
    {
        var configMap = All.Find("ConfigMap", $"{Rendered.Release}-dashboard");
        var expected = File.ReadAllText(Tools.InRepo("monitoring", "grafana", "laps-dashboard.json"));

        Assert.Equal(expected.TrimEnd('\n'), (string?)configMap["data"]!["laps-dashboard.json"]);
        Assert.Equal("1", (string?)configMap["metadata"]!["labels"]!["grafana_dashboard"]);
        Assert.Equal("monitoring", (string?)configMap["metadata"]!["namespace"]);
        Assert.Equal("Laps", (string?)configMap["metadata"]!["annotations"]!["grafana_folder"]);
    }

    [Fact]
    public void The_dashboard_label_is_configurable()
    {
        var rendered = Chart.Render("--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.labels.grafana_dashboard=null",
            "--set", "grafanaDashboard.labels.dashboards=laps");
        var labels = rendered.Find("ConfigMap", $"{Rendered.Release}-dashboard")["metadata"]!["labels"]!.AsObject();

        Assert.Equal("laps", (string?)labels["dashboards"]);
        Assert.False(labels.ContainsKey("grafana_dashboard"));
    }

    [Fact]
    public void The_dashboard_file_is_a_json_document()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Tools.InRepo("charts", "laps", "files", "laps-dashboard.json")));

        Assert.NotNull((string?)dashboard!["title"]);
    }
}
