using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

public sealed class CustomResourceTests : FakeServerTests
{
    private const string Group = "laps.dev";
    private const string Version = "v1alpha1";
    private const string Plural = "inferencepools";
    [Fact]
    public async Task InferencePools_work_through_the_CustomObjects_api_with_status_isolation()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p"), Group, Version, "default", Plural);
        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"status":{"readyWorkers":2,"observedGeneration":1}}""", V1Patch.PatchType.MergePatch),
            Group, Version, "default", Plural, "p");
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"workers":{"replicas":3}},"status":{"readyWorkers":99}}""", V1Patch.PatchType.MergePatch),
            Group, Version, "default", Plural, "p");

        var pool = (JsonElement)await Client.CustomObjects.GetNamespacedCustomObjectAsync(Group, Version, "default", Plural, "p");

        Assert.Equal(2, pool.GetProperty("status").GetProperty("readyWorkers").GetInt32());
        Assert.Equal(3, pool.GetProperty("spec").GetProperty("workers").GetProperty("replicas").GetInt32());
        Assert.Equal(2, pool.GetProperty("metadata").GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task Custom_resources_refuse_a_put_without_resourceVersion()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p"), Group, Version, "default", Plural);
        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(Pool("p", replicas: 5), Group, Version, "default", Plural, "p"));
        Assert.Equal((HttpStatusCode)422, e.Response.StatusCode);
    }

    [Fact]
    public async Task Scale_subresource_maps_to_workers_replicas_and_status()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p", replicas: 2), Group, Version, "default", Plural);
        Server.Modify(Plural, "default", "p", o => o["status"] = new System.Text.Json.Nodes.JsonObject
        {
            ["workers"] = 2, ["selector"] = "laps.dev/pool=p",
        });

        var scale = await Client.CustomObjects.GetNamespacedCustomObjectScaleAsync(Group, Version, "default", Plural, "p");
        var scaled = await Client.CustomObjects.PatchNamespacedCustomObjectScaleAsync(
            new V1Patch("""{"spec":{"replicas":5}}""", V1Patch.PatchType.MergePatch), Group, Version, "default", Plural, "p");

        var s = KubernetesJson.Deserialize<V1Scale>(JsonSerializer.Serialize(scale));
        Assert.Equal((2, 2, "laps.dev/pool=p"), (s.Spec.Replicas, s.Status.Replicas, s.Status.Selector));
        Assert.Equal(5, KubernetesJson.Deserialize<V1Scale>(JsonSerializer.Serialize(scaled)).Spec.Replicas);
        var pool = Server.Get(Plural, "default", "p");
        Assert.Equal(5, (int)pool["spec"]!["workers"]!["replicas"]!);
        Assert.Equal(2, (long)pool["metadata"]!["generation"]!);
    }

    [Fact]
    public async Task ServiceMonitors_exist_only_after_their_CRD_is_installed()
    {
        var before = await Client.Apis.GetAPIVersionsAsync();
        Assert.DoesNotContain(before.Groups, g => g.Name == "monitoring.coreos.com");
        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CustomObjects.ListNamespacedCustomObjectAsync("monitoring.coreos.com", "v1", "default", "servicemonitors"));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);

        Server.InstallServiceMonitorCrd();

        var crd = await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("servicemonitors.monitoring.coreos.com");
        Assert.Equal("ServiceMonitor", crd.Spec.Names.Kind);
        await Client.CustomObjects.ListNamespacedCustomObjectAsync("monitoring.coreos.com", "v1", "default", "servicemonitors");
    }

    [Fact]
    public async Task Discovery_lists_inferencepools_with_short_name_and_subresources()
    {
        var resources = await Client.CustomObjects.GetAPIResourcesAsync(Group, Version);
        var pools = Assert.Single(resources.Resources, r => r.Name == Plural);
        Assert.Equal(("InferencePool", true, "ipool"), (pools.Kind, pools.Namespaced, string.Join(",", pools.ShortNames)));
        Assert.Contains(resources.Resources, r => r.Name == "inferencepools/status");
        Assert.Contains(resources.Resources, r => r.Name == "inferencepools/scale" && r.Kind == "Scale");
    }

    [Fact]
    public async Task Deleting_a_CRD_removes_its_objects_and_the_kind()
    {
        Server.InstallServiceMonitorCrd();
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(new Dictionary<string, object>
        {
            ["apiVersion"] = "monitoring.coreos.com/v1",
            ["kind"] = "ServiceMonitor",
            ["metadata"] = new Dictionary<string, object> { ["name"] = "m" },
        }, "monitoring.coreos.com", "v1", "default", "servicemonitors");

        await Client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync("servicemonitors.monitoring.coreos.com");

        Assert.DoesNotContain(Server.Registry.All, t => t.Kind == "ServiceMonitor");
        Assert.Empty(Server.Store.List(ResourceRegistry.ServiceMonitor, null, Selector.Everything, Selector.Everything).Items);
        var list = await Client.ApiextensionsV1.ListCustomResourceDefinitionAsync();
        Assert.Empty(list.Items);
    }

    [Fact]
    public async Task Server_side_apply_creates_then_merges()
    {
        var body = """{"apiVersion":"laps.dev/v1alpha1","kind":"InferencePool","metadata":{"name":"p","namespace":"default"},"spec":{"workers":{"replicas":1}}}""";
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch(body, V1Patch.PatchType.ApplyPatch),
            Group, Version, "default", Plural, "p", fieldManager: "test");
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch(body.Replace("1}", "4}", StringComparison.Ordinal), V1Patch.PatchType.ApplyPatch),
            Group, Version, "default", Plural, "p", fieldManager: "test");

        Assert.Equal(4, (int)Server.Get(Plural, "default", "p")["spec"]!["workers"]!["replicas"]!);
    }

    [Fact]
    public async Task An_incomplete_CRD_is_422_and_registers_nothing()
    {
        var before = Server.Registry.All.Count;
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(
            new V1CustomResourceDefinition { Metadata = new V1ObjectMeta { Name = "things.example.com" }, Spec = new V1CustomResourceDefinitionSpec() }));
        Assert.Equal((HttpStatusCode)422, e.Response.StatusCode);
        Assert.Equal(before, Server.Registry.All.Count);
    }
}
