using k8s;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

public sealed class DeletionTests : FakeServerTests
{
    private (V1Deployment Owner, V1ConfigMap Child, V1ConfigMap GrandChild) Family()
    {
        var owner = Server.Seed(Deployment("owner"));
        var child = ConfigMap("child");
        child.Metadata.OwnerReferences = [OwnedBy(owner)];
        child = Server.Seed(child);
        var grandChild = ConfigMap("grandchild");
        grandChild.Metadata.OwnerReferences = [OwnedBy(child)];
        return (owner, child, Server.Seed(grandChild));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Background")]
    [InlineData("Foreground")]
    public async Task Deleting_an_owner_collects_its_dependents_transitively(string? propagation)
    {
        Family();

        await Client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default", propagationPolicy: propagation);

        Assert.Empty(Server.List<V1Deployment>());
        Assert.Empty(Server.List<V1ConfigMap>());
    }

    [Fact]
    public async Task Orphan_propagation_keeps_dependents_without_the_owner_reference()
    {
        Family();

        await Client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default", body: new V1DeleteOptions { PropagationPolicy = "Orphan" });

        var child = Server.Get<V1ConfigMap>("default", "child");
        Assert.Empty(child.Metadata.OwnerReferences ?? []);
        Assert.NotNull(Server.TryGet<V1ConfigMap>("default", "grandchild"));
    }

    [Fact]
    public async Task A_dependent_with_another_living_owner_survives()
    {
        var (owner, child, _) = Family();
        var other = Server.Seed(ConfigMap("other-owner"));
        Server.Modify<V1ConfigMap>("default", "child", c => c.Metadata.OwnerReferences.Add(OwnedBy(other)));

        await Client.AppsV1.DeleteNamespacedDeploymentAsync(owner.Metadata.Name, "default");

        Assert.NotNull(Server.TryGet<V1ConfigMap>("default", child.Metadata.Name));
    }

    [Fact]
    public async Task With_garbage_collection_off_dependents_stay()
    {
        Family();
        Server.Store.CollectGarbage = false;

        await Client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default");

        Assert.Equal(2, Server.List<V1ConfigMap>().Count);
    }

    [Fact]
    public async Task Finalizers_keep_a_deleted_object_until_they_are_removed()
    {
        var cm = ConfigMap("a");
        cm.Metadata.Finalizers = ["laps.dev/cleanup"];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, "default");

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("a", "default");
        var deleting = await Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default");
        Assert.NotNull(deleting.Metadata.DeletionTimestamp);

        deleting.Metadata.Finalizers = [];
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(deleting, "a", "default");

        Assert.Null(Server.TryGet<V1ConfigMap>("default", "a"));
    }

    [Fact]
    public async Task A_deleting_object_accepts_no_new_finalizers()
    {
        var cm = ConfigMap("a");
        cm.Metadata.Finalizers = ["laps.dev/cleanup"];
        Server.Seed(cm);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("a", "default");
        var deleting = await Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default");
        deleting.Metadata.Finalizers.Add("other");

        var e = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() =>
            Client.CoreV1.ReplaceNamespacedConfigMapAsync(deleting, "a", "default"));

        Assert.Equal(422, (int)e.Response.StatusCode);
    }

    [Fact]
    public async Task Foreground_deletion_waits_for_a_finalized_dependent()
    {
        var owner = Server.Seed(Deployment("owner"));
        var child = ConfigMap("child");
        child.Metadata.OwnerReferences = [OwnedBy(owner)];
        child.Metadata.Finalizers = ["laps.dev/hold"];
        Server.Seed(child);

        await Client.AppsV1.DeleteNamespacedDeploymentAsync("owner", "default", propagationPolicy: "Foreground");
        var waiting = Server.Get<V1Deployment>("default", "owner");
        Assert.Contains("foregroundDeletion", waiting.Metadata.Finalizers);

        Server.Modify<V1ConfigMap>("default", "child", c => c.Metadata.Finalizers = []);

        Assert.Null(Server.TryGet<V1ConfigMap>("default", "child"));
        Assert.Null(Server.TryGet<V1Deployment>("default", "owner"));
    }

    [Fact]
    public async Task Deleting_a_custom_resource_returns_the_object_and_a_watch_sees_DELETED()
    {
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(Pool("p"), "laps.dev", "v1alpha1", "default", "inferencepools");
        var rv = Server.Store.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var deleted = (System.Text.Json.JsonElement)await Client.CustomObjects.DeleteNamespacedCustomObjectAsync("laps.dev", "v1alpha1", "default", "inferencepools", "p");

        Assert.Equal("InferencePool", deleted.GetProperty("kind").GetString());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var (type, _) in Client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                           "laps.dev", "v1alpha1", "default", "inferencepools", resourceVersion: rv, cancellationToken: timeout.Token))
        {
            Assert.Equal(WatchEventType.Deleted, type);
            break;
        }
    }
}
