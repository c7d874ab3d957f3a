using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

public sealed class CustomResourceTests : IAsyncLifetime
{
    private const string Group = "laps.dev";
    private const string Version = "v1alpha1";
    private const string Plural = "inferencepools";
    private FakeKubernetesServer _server = null!;
    private k8s.Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesServer.StartAsync();
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task InferencePools_work_through_the_CustomObjects_api_with_status_isolation()
    {
        await _client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p"), Group, Version, "default", Plural);
        await _client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"status":{"readyWorkers":2,"observedGeneration":1}}""", V1Patch.PatchType.MergePatch),
            Group, Version, "default", Plural, "p");
        await _client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"workers":{"replicas":3}},"status":{"readyWorkers":99}}""", V1Patch.PatchType.MergePatch),
            Group, Version, "default", Plural, "p");

        var pool = (JsonElement)await _client.CustomObjects.GetNamespacedCustomObjectAsync(Group, Version, "default", Plural, "p");

        Assert.Equal(2, pool.GetProperty("status").GetProperty("readyWorkers").GetInt32());
        Assert.Equal(3, pool.GetProperty("spec").GetProperty("workers").GetProperty("replicas").GetInt32());
        Assert.Equal(2, pool.GetProperty("metadata").GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task Custom_resources_refuse_a_put_without_resourceVersion()
    {
        await _client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p"), Group, Version, "default", Plural);
        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CustomObjects.ReplaceNamespacedCustomObjectAsync(Pool("p", replicas: 5), Group, Version, "default", Plural, "p"));
        Assert.Equal((HttpStatusCode)422, e.Response.StatusCode);
    }

    [Fact]
    public async Task Scale_subresource_maps_to_workers_replicas_and_status()
    {
        await _client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p", replicas: 2), Group, Version, "default", Plural);
        _server.Modify(Plural, "default", "p", o => o["status"] = new System.Text.Json.Nodes.JsonObject
        {
            ["workers"] = 2, ["selector"] = "laps.dev/pool=p",
        });

        var scale = await _client.CustomObjects.GetNamespacedCustomObjectScaleAsync(Group, Version, "default", Plural, "p");
        var scaled = await _client.CustomObjects.PatchNamespacedCustomObjectScaleAsync(
            new V1Patch("""{"spec":{"replicas":5}}""", V1Patch.PatchType.MergePatch), Group, Version, "default", Plural, "p");

        var s = KubernetesJson.Deserialize<V1Scale>(JsonSerializer.Serialize(scale));
        Assert.Equal((2, 2, "laps.dev/pool=p"), (s.Spec.Replicas, s.Status.Replicas, s.Status.Selector));
        Assert.Equal(5, KubernetesJson.Deserialize<V1Scale>(JsonSerializer.Serialize(scaled)).Spec.Replicas);
        var pool = _server.Get(Plural, "default", "p");
        Assert.Equal(5, (int)pool["spec"]!["workers"]!["replicas"]!);
        Assert.Equal(2, (long)pool["metadata"]!["generation"]!);
    }

    [Fact]
    public async Task ServiceMonitors_exist_only_after_their_CRD_is_installed()
    {
        var before = await _client.Apis.GetAPIVersionsAsync();
        Assert.DoesNotContain(before.Groups, g => g.Name == "monitoring.coreos.com");
        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CustomObjects.ListNamespacedCustomObjectAsync("monitoring.coreos.com", "v1", "default", "servicemonitors"));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);

        _server.InstallServiceMonitorCrd();

        var crd = await _client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("servicemonitors.monitoring.coreos.com");
        Assert.Equal("ServiceMonitor", crd.Spec.Names.Kind);
        await _client.CustomObjects.ListNamespacedCustomObjectAsync("monitoring.coreos.com", "v1", "default", "servicemonitors");
    }

    [Fact]
    public async Task Discovery_lists_inferencepools_with_short_name_and_subresources()
    {
        var resources = await _client.CustomObjects.GetAPIResourcesAsync(Group, Version);
        var pools = Assert.Single(resources.Resources, r => r.Name == Plural);
        Assert.Equal(("InferencePool", true, "ipool"), (pools.Kind, pools.Namespaced, string.Join(",", pools.ShortNames)));
        Assert.Contains(resources.Resources, r => r.Name == "inferencepools/status");
        Assert.Contains(resources.Resources, r => r.Name == "inferencepools/scale" && r.Kind == "Scale");
    }
}
