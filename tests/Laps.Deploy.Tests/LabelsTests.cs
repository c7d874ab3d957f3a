namespace Laps.Deploy.Tests;

/// <summary>Every object says what it is and who manages it, the way kubectl, Helm and dashboards expect.</summary>
public class LabelsTests
{
    public static TheoryData<string, string> StandardLabels => new()
    {
        { "helm.sh/chart", "laps-0.1.0" },
        { "app.kubernetes.io/name", "laps" },
        { "app.kubernetes.io/instance", Rendered.Release },
        { "app.kubernetes.io/version", "0.1.0" },
        { "app.kubernetes.io/managed-by", "Helm" },
        { "app.kubernetes.io/part-of", "laps" },
    };

    [Theory]
    [MemberData(nameof(StandardLabels))]
    public void Every_object_has_the_standard_label(string label, string value)
    {
        Assert.All(Chart.Get(Chart.AllFeatures).Documents, d => Assert.Equal(value, (string?)d["metadata"]!["labels"]![label]));
    }

    [Fact]
    public void Common_labels_reach_every_object()
    {
        Assert.All(Chart.Get(Chart.AllFeatures).Documents, d => Assert.Equal("inference", (string?)d["metadata"]!["labels"]!["team"]));
    }

    [Fact]
    public void The_deployment_selector_matches_its_pods_and_is_kept_apart_from_the_pools_pods_by_component()
    {
        var deployment = Chart.Get(Chart.AllFeatures).OperatorDeployment;
        var selector = deployment["spec"]!["selector"]!["matchLabels"]!.AsObject();
        var podLabels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();

        Assert.All(selector, s => Assert.Equal((string?)s.Value, (string?)podLabels[s.Key]));
        Assert.Equal("operator", (string?)selector["app.kubernetes.io/component"]);
        // Extra labels must not enter the selector: a Deployment's selector cannot change on upgrade.
        Assert.False(selector.ContainsKey("team"));
        Assert.False(selector.ContainsKey("app.kubernetes.io/version"));
    }

    [Theory]
    [InlineData("laps", "laps")]
    [InlineData("prod", "prod-laps")]
    [InlineData("laps-prod", "laps-prod")]
    public void Object_names_do_not_repeat_the_chart_name(string release, string expected)
    {
        var result = Tools.RunHelm(["template", release, Chart.Dir, "--namespace", Rendered.Namespace]);
        var rendered = new Rendered(result.Stdout);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Single(rendered.OfKind("Deployment"), d => (string?)d["metadata"]!["name"] == expected);
    }
}
