using System.Text.Json.Nodes;

namespace Laps.Deploy.Tests;

/// <summary>The operator Deployment: hardened, probed, and started with the `laps operator` contract's flags.</summary>
public class OperatorDeploymentTests
{
    private static readonly Rendered Defaults = Chart.Get(Chart.Default);
    private static readonly Rendered All = Chart.Get(Chart.AllFeatures);

    private static JsonNode PodSpec(Rendered r) => r.OperatorDeployment["spec"]!["template"]!["spec"]!;

    private static List<string> Args(Rendered r) => [.. r.OperatorContainer["args"]!.AsArray().Select(a => (string)a!)];

    private static string? Flag(Rendered r, string flag)
    {
        var args = Args(r);
        var at = args.IndexOf(flag);
        return at < 0 ? null : args[at + 1];
    }

    [Theory]
    [InlineData("runAsNonRoot", "true")]
    [InlineData("runAsUser", "1654")]
    [InlineData("seccompProfile.type", "RuntimeDefault")]
    public void The_pod_runs_as_the_images_non_root_user_with_the_default_seccomp_profile(string path, string expected)
    {
        Assert.Equal(expected, Get(PodSpec(Defaults)["securityContext"]!, path));
    }

    [Theory]
    [InlineData("allowPrivilegeEscalation", "false")]
    [InlineData("readOnlyRootFilesystem", "true")]
    [InlineData("runAsNonRoot", "true")]
    [InlineData("seccompProfile.type", "RuntimeDefault")]
    public void The_container_is_locked_down(string path, string expected)
    {
        Assert.Equal(expected, Get(Defaults.OperatorContainer["securityContext"]!, path));
    }

    [Fact]
    public void The_container_drops_every_capability_and_adds_none()
    {
        var capabilities = Defaults.OperatorContainer["securityContext"]!["capabilities"]!;

        Assert.Equal(["ALL"], capabilities["drop"]!.AsArray().Select(c => (string?)c));
        Assert.Null(capabilities["add"]);
    }

    [Fact]
    public void Tmp_is_a_writable_emptyDir_because_the_root_filesystem_is_read_only()
    {
        var mount = Defaults.OperatorContainer["volumeMounts"]!.AsArray().Single(m => (string?)m!["mountPath"] == "/tmp")!;
        var volume = PodSpec(Defaults)["volumes"]!.AsArray().Single(v => (string?)v!["name"] == (string?)mount["name"])!;

        Assert.NotNull(volume["emptyDir"]);
        Assert.NotEqual("true", (string?)mount["readOnly"]);
    }

    [Fact]
    public void Cpu_and_memory_requests_and_a_memory_limit_are_set()
    {
        var resources = Defaults.OperatorContainer["resources"]!;

        Assert.NotNull((string?)resources["requests"]!["cpu"]);
        Assert.NotNull((string?)resources["requests"]!["memory"]);
        Assert.NotNull((string?)resources["limits"]!["memory"]);
    }

    [Theory]
    [InlineData("livenessProbe", "/healthz")]
    [InlineData("readinessProbe", "/readyz")]
    public void Probes_hit_the_operator_on_its_http_metrics_port(string probe, string path)
    {
        var get = Defaults.OperatorContainer[probe]!["httpGet"]!;

        Assert.Equal(path, (string?)get["path"]);
        Assert.Equal("http-metrics", (string?)get["port"]);
    }

    [Fact]
    public void The_http_metrics_port_is_8081()
    {
        var port = Defaults.OperatorContainer["ports"]!.AsArray().Single()!;

        Assert.Equal("http-metrics", (string?)port["name"]);
        Assert.Equal("8081", (string?)port["containerPort"]);
        Assert.Equal("8081", Flag(Defaults, "--port"));
    }

    [Fact]
    public void Two_replicas_elect_a_leader_by_default()
    {
        Assert.Equal("2", (string?)Defaults.OperatorDeployment["spec"]!["replicas"]);
        Assert.Equal("true", Flag(Defaults, "--leader-elect"));
        Assert.Equal("laps-operator", Flag(Defaults, "--lease-name"));
    }

    [Fact]
    public void A_rollout_replaces_all_old_pods_at_once_because_only_the_leader_is_ready()
    {
        var rollingUpdate = Defaults.OperatorDeployment["spec"]!["strategy"]!["rollingUpdate"]!;

        Assert.Equal("100%", (string?)rollingUpdate["maxUnavailable"]);
        Assert.Equal("0", (string?)rollingUpdate["maxSurge"]);
    }

    [Fact]
    public void The_first_argument_selects_the_operator_command_listening_on_every_interface()
    {
        Assert.Equal("operator", Args(Defaults)[0]);
        Assert.Equal("*", Flag(Defaults, "--host"));
    }

    [Fact]
    public void By_default_every_namespace_is_watched()
    {
        Assert.DoesNotContain("--namespace", Args(Defaults));
    }

    [Fact]
    public void WatchNamespace_becomes_the_namespace_flag()
    {
        Assert.Equal("inference", Flag(All, "--namespace"));
    }

    [Fact]
    public void Leader_election_can_be_turned_off()
    {
        var rendered = Chart.Render("--set", "operator.replicas=1,operator.leaderElection.enabled=false");

        Assert.Equal("false", Flag(rendered, "--leader-elect"));
    }

    [Fact]
    public void The_default_image_for_pools_is_the_operators_own_image()
    {
        var image = (string?)Defaults.OperatorContainer["image"];

        Assert.Equal("ghcr.io/laps-dev/laps:0.1.0", image);
        Assert.Equal(image, Flag(Defaults, "--default-image"));
    }

    [Fact]
    public void An_image_digest_wins_over_the_tag_and_an_explicit_default_image_wins_over_both()
    {
        Assert.Equal(
            "registry.example.com/laps/laps@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            (string?)All.OperatorContainer["image"]);
        Assert.Equal("registry.example.com/laps/laps:0.1.0", Flag(All, "--default-image"));
    }

    [Theory]
    [InlineData("POD_NAME", "metadata.name")]
    [InlineData("POD_NAMESPACE", "metadata.namespace")]
    public void The_pod_knows_its_identity_from_the_downward_api(string name, string field)
    {
        var env = Defaults.OperatorContainer["env"]!.AsArray().Single(e => (string?)e!["name"] == name)!;

        Assert.Equal(field, (string?)env["valueFrom"]!["fieldRef"]!["fieldPath"]);
    }

    [Fact]
    public void The_pod_runs_under_the_charts_service_account()
    {
        Assert.Equal(Rendered.Release, (string?)PodSpec(Defaults)["serviceAccountName"]);
        Assert.Single(Defaults.OfKind("ServiceAccount"), sa => (string?)sa["metadata"]!["name"] == Rendered.Release);
    }

    [Theory]
    [InlineData("nodeSelector")]
    [InlineData("tolerations")]
    [InlineData("affinity")]
    [InlineData("imagePullSecrets")]
    [InlineData("topologySpreadConstraints")]
    [InlineData("priorityClassName")]
    public void Scheduling_settings_are_absent_by_default_and_rendered_when_set(string field)
    {
        Assert.Null(PodSpec(Defaults)[field]);
        Assert.NotNull(PodSpec(All)[field]);
    }

    [Fact]
    public void Scheduling_settings_carry_the_values_verbatim()
    {
        var pod = PodSpec(All);

        Assert.Equal("linux", (string?)pod["nodeSelector"]!["kubernetes.io/os"]);
        Assert.Equal("dedicated", (string?)pod["tolerations"]![0]!["key"]);
        Assert.Equal("registry-credentials", (string?)pod["imagePullSecrets"]![0]!["name"]);
        Assert.Equal("100", (string?)pod["affinity"]!["podAntiAffinity"]!["preferredDuringSchedulingIgnoredDuringExecution"]![0]!["weight"]);
    }

    [Fact]
    public void Pod_annotations_and_pod_labels_reach_the_pod_template()
    {
        var metadata = All.OperatorDeployment["spec"]!["template"]!["metadata"]!;

        Assert.Equal("ml-platform", (string?)metadata["annotations"]!["example.com/owner"]);
        Assert.Equal("control-plane", (string?)metadata["labels"]!["example.com/tier"]);
    }

    private static string? Get(JsonNode node, string dottedPath) =>
        (string?)dottedPath.Split('.').Aggregate((JsonNode?)node, (n, key) => n?[key]);
}
