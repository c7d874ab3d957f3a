using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

// The real KubernetesClient against the fake over loopback HTTP.
public sealed class CrudTests : FakeServerTests
{
    [Fact]
    public async Task Create_get_update_delete_round_trip_with_server_metadata()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.NotNull(created.Metadata.ResourceVersion);

        created.Data["key"] = "changed";
        var updated = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "a", "default");
        Assert.Equal("changed", updated.Data["key"]);
        Assert.True(long.Parse(updated.Metadata.ResourceVersion) > long.Parse(created.Metadata.ResourceVersion));
        Assert.Equal(created.Metadata.Uid, updated.Metadata.Uid);

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("a", "default");
        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Response.StatusCode);
    }

    [Fact]
    public async Task Creating_an_existing_name_is_409_AlreadyExists()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default"));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        Assert.Equal("AlreadyExists", Status(e).Reason);
    }

    [Fact]
    public async Task Update_with_a_stale_resourceVersion_is_409_Conflict_with_a_Status_body()
    {
        var first = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
        var stale = first.Metadata.ResourceVersion;
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "a", "default");
        first.Data["key"] = "other";
        first.Metadata.ResourceVersion = stale;
        Server.Modify<V1ConfigMap>("default", "a", c => c.Data["key"] = "someone else");

        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "a", "default"));
        var status = Status(e);
        Assert.Equal((HttpStatusCode.Conflict, "Conflict", 409), (e.Response.StatusCode, status.Reason, status.Code));
        Assert.Contains("the object has been modified", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_without_resourceVersion_is_unconditional_for_built_in_kinds()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
        Server.Modify<V1ConfigMap>("default", "a", c => c.Data["key"] = "someone else");
        var blind = ConfigMap("a");
        blind.Data["key"] = "mine";

        var result = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(blind, "a", "default");

        Assert.Equal("mine", result.Data["key"]);
    }

    [Fact]
    public async Task An_update_that_changes_nothing_keeps_the_resourceVersion()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
        var again = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "a", "default");
        Assert.Equal(created.Metadata.ResourceVersion, again.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Generation_counts_spec_changes_only()
    {
        var d = await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web"), "default");
        Assert.Equal(1, d.Metadata.Generation);

        d.Metadata.Labels = new Dictionary<string, string> { ["tier"] = "front" };
        d = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(d, "web", "default");
        Assert.Equal(1, d.Metadata.Generation);

        d.Status = new V1DeploymentStatus { ReadyReplicas = 1 };
        d = await Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(d, "web", "default");
        Assert.Equal(1, d.Metadata.Generation);

        d.Spec.Replicas = 3;
        d = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(d, "web", "default");
        Assert.Equal(2, d.Metadata.Generation);
    }

    [Fact]
    public async Task Main_resource_writes_ignore_status_and_status_writes_ignore_spec()
    {
        var withStatus = Deployment("web");
        withStatus.Status = new V1DeploymentStatus { ReadyReplicas = 5 };
        var d = await Client.AppsV1.CreateNamespacedDeploymentAsync(withStatus, "default");
        Assert.Null(d.Status?.ReadyReplicas);

        d.Spec.Replicas = 7;
        d.Status = new V1DeploymentStatus { ReadyReplicas = 2 };
        d = await Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(d, "web", "default");
        Assert.Equal((1, 2), (d.Spec.Replicas, d.Status.ReadyReplicas));

        d.Spec.Replicas = 4;
        d.Status.ReadyReplicas = 9;
        d = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(d, "web", "default");
        Assert.Equal((4, 2), (d.Spec.Replicas, d.Status.ReadyReplicas));
    }

    [Fact]
    public async Task Another_writer_sets_status_through_the_test_api()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web"), "default");
        Server.Modify<V1Deployment>("default", "web", d => d.Status = new V1DeploymentStatus { ReadyReplicas = 1 });
        var read = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", "default");
        Assert.Equal(1, read.Status.ReadyReplicas);
    }

    [Theory]
    [InlineData("app=web", "web")]
    [InlineData("app==web", "web")]
    [InlineData("app!=web", "db,plain")]
    [InlineData("app in (web,db)", "db,web")]
    [InlineData("app notin (web)", "db,plain")]
    [InlineData("app", "db,web")]
    [InlineData("!app", "plain")]
    [InlineData("app=web,tier=front", "web")]
    [InlineData("app=web,tier=back", "")]
    public async Task List_filters_by_label_selector(string selector, string expected)
    {
        Server.Seed(ConfigMap("web", labels: new Dictionary<string, string> { ["app"] = "web", ["tier"] = "front" }));
        Server.Seed(ConfigMap("db", labels: new Dictionary<string, string> { ["app"] = "db" }));
        Server.Seed(ConfigMap("plain"));

        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: selector);

        Assert.Equal(expected, string.Join(",", list.Items.Select(i => i.Metadata.Name)));
    }

    [Fact]
    public async Task List_across_namespaces_and_by_field_selector()
    {
        Server.Seed(ConfigMap("a", "one"));
        Server.Seed(ConfigMap("b", "two"));

        var all = await Client.CoreV1.ListConfigMapForAllNamespacesAsync();
        var byName = await Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: "metadata.name=b");

        Assert.Equal(["a", "b"], all.Items.Select(i => i.Metadata.Name));
        Assert.Equal("two", Assert.Single(byName.Items).Metadata.NamespaceProperty);
        Assert.Equal(Server.Store.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), all.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Merge_patch_and_json_patch_change_the_stored_object()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");

        await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"data":{"extra":"1","key":null}}""", V1Patch.PatchType.MergePatch), "a", "default");
        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""[{"op":"add","path":"/metadata/labels","value":{"x":"y"}},{"op":"replace","path":"/data/extra","value":"2"}]""",
                V1Patch.PatchType.JsonPatch), "a", "default");

        Assert.Equal(new Dictionary<string, string> { ["extra"] = "2" }, patched.Data);
        Assert.Equal("y", patched.Metadata.Labels["x"]);
    }

    [Fact]
    public async Task Injected_503_surfaces_as_HttpOperationException_once()
    {
        Server.InjectFault("create", "configmaps", 503, retryAfter: TimeSpan.FromSeconds(2));

        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.Response.StatusCode);
        Assert.Equal("2", e.Response.Headers["Retry-After"].Single());

        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
    }

    [Fact]
    public async Task Delete_collection_removes_only_the_selected_objects()
    {
        Server.Seed(ConfigMap("web", labels: new Dictionary<string, string> { ["app"] = "web" }));
        Server.Seed(ConfigMap("db", labels: new Dictionary<string, string> { ["app"] = "db" }));

        await Client.CoreV1.DeleteCollectionNamespacedConfigMapAsync("default", labelSelector: "app=web");

        Assert.Equal("db", Assert.Single(Server.List<V1ConfigMap>()).Metadata.Name);
    }

    [Fact]
    public async Task Faults_match_verb_resource_and_name()
    {
        Server.Seed(ConfigMap("a"));
        Server.Seed(ConfigMap("b"));
        Server.InjectFault("get", "configmaps", 500, name: "b", times: 2);

        await Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default");
        await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        for (var i = 0; i < 2; i++)
        {
            var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ReadNamespacedConfigMapAsync("b", "default"));
            Assert.Equal(HttpStatusCode.InternalServerError, e.Response.StatusCode);
        }
        await Client.CoreV1.ReadNamespacedConfigMapAsync("b", "default");
    }

    [Fact]
    public async Task The_request_log_records_kubernetes_verbs()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
        await Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default");
        await Client.CoreV1.ListNamespacedConfigMapAsync("default");

        Assert.Equal(["create", "get", "list"], Server.Requests.Select(r => r.Verb));
        Assert.Single(Server.Requests, r => r.IsWrite);
        Assert.Equal(("configmaps", "default", "a"), (Server.Requests[1].Resource, Server.Requests[1].Namespace, Server.Requests[1].Name));
    }

    private static V1Status Status(HttpOperationException e) => KubernetesJson.Deserialize<V1Status>(e.Response.Content);
}
