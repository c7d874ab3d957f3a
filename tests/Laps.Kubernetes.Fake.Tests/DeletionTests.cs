using k8s;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

public sealed class DeletionTests : IAsyncLifetime
{
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

    private (V1Deployment Owner, V1ConfigMap Child, V1ConfigMap GrandChild) Family()
    {
        var owner = _server.Seed(Deployment("owner"));
        var child = ConfigMap("child");
        child.Metadata.OwnerReferences = [OwnedBy(owner)];
        child = _server.Seed(child);
        var grandChild = ConfigMap("grandchild");
        grandChild.Metadata.OwnerReferences = [OwnedBy(child)];
        return (owner, child, _server.Seed(grandChild));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Background")]
    [InlineData("Foreground")]
    public async Task Deleting_an_owner_collects_its_dependents_transitively(string? propagation)
    {
        Family();

        await _client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default", propagationPolicy: propagation);

        Assert.Empty(_server.List<V1Deployment>());
        Assert.Empty(_server.List<V1ConfigMap>());
    }

    [Fact]
    public async Task Orphan_propagation_keeps_dependents_without_the_owner_reference()
    {
        Family();

        await _client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default", body: new V1DeleteOptions { PropagationPolicy = "Orphan" });

        var child = _server.Get<V1ConfigMap>("default", "child");
        Assert.Empty(child.Metadata.OwnerReferences ?? []);
        Assert.NotNull(_server.TryGet<V1ConfigMap>("default", "grandchild"));
    }

    [Fact]
    public async Task A_dependent_with_another_living_owner_survives()
    {
        var (owner, child, _) = Family();
        var other = _server.Seed(ConfigMap("other-owner"));
        _server.Modify<V1ConfigMap>("default", "child", c => c.Metadata.OwnerReferences.Add(OwnedBy(other)));

        await _client.AppsV1.DeleteNamespacedDeploymentAsync(owner.Metadata.Name, "default");

        Assert.NotNull(_server.TryGet<V1ConfigMap>("default", child.Metadata.Name));
    }

    [Fact]
    public async Task With_garbage_collection_off_dependents_stay()
    {
        Family();
        _server.Store.CollectGarbage = false;

        await _client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default");

        Assert.Equal(2, _server.List<V1ConfigMap>().Count);
    }

    [Fact]
    public async Task Finalizers_keep_a_deleted_object_until_they_are_removed()
    {
        var cm = ConfigMap("a");
        cm.Metadata.Finalizers = ["laps.dev/cleanup"];
        await _client.CoreV1.CreateNamespacedConfigMapAsync(cm, "default");

        await _client.CoreV1.DeleteNamespacedConfigMapAsync("a", "default");
        var deleting = await _client.CoreV1.ReadNamespacedConfigMapAsync("a", "default");
        Assert.NotNull(deleting.Metadata.DeletionTimestamp);

        deleting.Metadata.Finalizers = [];
        await _client.CoreV1.ReplaceNamespacedConfigMapAsync(deleting, "a", "default");

        Assert.Null(_server.TryGet<V1ConfigMap>("default", "a"));
    }

    [Fact]
    public async Task A_deleting_object_accepts_no_new_finalizers()
    {
        var cm = ConfigMap("a");
        cm.Metadata.Finalizers = ["laps.dev/cleanup"];
        _server.Seed(cm);
        await _client.CoreV1.DeleteNamespacedConfigMapAsync("a", "default");
        var deleting = await _client.CoreV1.ReadNamespacedConfigMapAsync("a", "default");
        deleting.Metadata.Finalizers.Add("other");

        var e = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() =>
            _client.CoreV1.ReplaceNamespacedConfigMapAsync(deleting, "a", "default"));

        Assert.Equal(422, (int)e.Response.StatusCode);
    }

    [Fact]
    public async Task Foreground_deletion_waits_for_a_finalized_dependent()
    {
        var owner = _server.Seed(Deployment("owner"));
        var child = ConfigMap("child");
        child.Metadata.OwnerReferences = [OwnedBy(owner)];
        child.Metadata.Finalizers = ["laps.dev/hold"];
        _server.Seed(child);

        await _client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default", propagationPolicy: "Foreground");
        var waiting = _server.Get<V1Deployment>("default", "owner");
        Assert.Contains("foregroundDeletion", waiting.Metadata.Finalizers);

        _server.Modify<V1ConfigMap>("default", "child", c => c.Metadata.Finalizers = []);

        Assert.Null(_server.TryGet<V1ConfigMap>("default", "child"));
        Assert.Null(_server.TryGet<V1Deployment>("default", "owner"));
    }

    [Fact]
    public async Task Deleting_a_custom_resource_returns_the_object_and_a_watch_sees_DELETED()
    {
        await _client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p"), "laps.dev", "v1alpha1", "default", "inferencepools");
        var rv = _server.Store.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var deleted = (System.Text.Json.JsonElement)await _client.CustomObjects.DeleteNamespacedCustomObjectAsync("laps.dev", "v1alpha1", "default", "inferencepools", "p");

        Assert.Equal("InferencePool", deleted.GetProperty("kind").GetString());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var (type, _) in _client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                           "laps.dev", "v1alpha1", "default", "inferencepools", resourceVersion: rv, cancellationToken: timeout.Token))
        {
            Assert.Equal(WatchEventType.Deleted, type);
            break;
        }
    }
}
