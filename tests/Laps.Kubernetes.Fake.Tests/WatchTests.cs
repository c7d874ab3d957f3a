using k8s;
using k8s.Autorest;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

// Watches over real loopback streams: each test has one bounded timeout.
public sealed class WatchTests : FakeServerTests, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task Watch_from_a_resourceVersion_delivers_later_events_in_order()
    {
        Server.Seed(ConfigMap("before"));
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        Server.Seed(ConfigMap("a"));
        Server.Modify<V1ConfigMap>("default", "a", c => c.Data["key"] = "2");
        Server.Delete<V1ConfigMap>("default", "a");
        Server.Seed(ConfigMap("other-namespace", "elsewhere"));

        var events = await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync(
            "default", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: _timeout.Token), 3);

        Assert.Equal([(WatchEventType.Added, "a"), (WatchEventType.Modified, "a"), (WatchEventType.Deleted, "a")],
            events.Select(e => (e.Type, e.Object.Metadata.Name)));
        var versions = events.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.True(versions[0] > long.Parse(list.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task Watch_without_resourceVersion_starts_with_the_current_objects_then_changes()
    {
        Server.Seed(ConfigMap("a"));
        var watching = Take(Client.CoreV1.WatchListConfigMapForAllNamespacesAsync(cancellationToken: _timeout.Token), 2);
        await Server.WatchOpenedAsync("configmaps", _timeout.Token);
        Server.Seed(ConfigMap("b", "other"));

        var events = await watching;

        Assert.Equal([(WatchEventType.Added, "a"), (WatchEventType.Added, "b")], events.Select(e => (e.Type, e.Object.Metadata.Name)));
    }

    [Fact]
    public async Task A_label_selected_watch_sees_objects_enter_and_leave_the_selection()
    {
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        var watching = Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default",
            resourceVersion: list.Metadata.ResourceVersion, labelSelector: "app=web", cancellationToken: _timeout.Token), 3);
        Server.Seed(ConfigMap("a"));
        Server.Modify<V1ConfigMap>("default", "a", c => c.Metadata.Labels = new Dictionary<string, string> { ["app"] = "web" });
        Server.Modify<V1ConfigMap>("default", "a", c => c.Data["key"] = "2");
        Server.Modify<V1ConfigMap>("default", "a", c => c.Metadata.Labels = null);

        var events = await watching;

        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
    }

    [Fact]
    public async Task Bookmarks_carry_the_current_resourceVersion()
    {
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        var watching = Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default",
            resourceVersion: list.Metadata.ResourceVersion, allowWatchBookmarks: true, cancellationToken: _timeout.Token), 1);
        await Server.WatchOpenedAsync("configmaps", _timeout.Token);
        Server.Seed(ConfigMap("elsewhere", "other"));
        Server.SendBookmarks();

        var bookmark = Assert.Single(await watching);

        Assert.Equal(WatchEventType.Bookmark, bookmark.Type);
        Assert.Equal(Server.Store.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), bookmark.Object.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Bookmarks_go_out_on_the_configured_interval_of_the_server_clock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = clock, BookmarkInterval = TimeSpan.FromMinutes(1) });
        using var client = server.CreateClient();
        var watching = Take(client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: "1",
            allowWatchBookmarks: true, cancellationToken: _timeout.Token), 1);
        await server.WatchOpenedAsync("configmaps", _timeout.Token);

        clock.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(WatchEventType.Bookmark, Assert.Single(await watching).Type);
    }

    [Fact]
    public async Task Watch_from_a_compacted_resourceVersion_ends_with_410_Expired()
    {
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        Server.Seed(ConfigMap("a"));
        Server.Compact();
        var errors = new List<Exception>();

        var events = await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default",
            resourceVersion: list.Metadata.ResourceVersion, onError: errors.Add, cancellationToken: _timeout.Token), 1);

        Assert.Empty(events);
        var status = Assert.IsType<KubernetesException>(Assert.Single(errors)).Status;
        Assert.Equal((410, "Expired"), (status.Code, status.Reason));
    }

    [Fact]
    public async Task DisconnectWatches_ends_open_streams()
    {
        // The stream carries one event first: KubernetesClient 21 throws on a watch that ends before its first line
        // (kubernetes-client/csharp#893), against a real server too.
        Server.Seed(ConfigMap("a"));
        var watching = Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default", cancellationToken: _timeout.Token), 2);
        await Server.WatchOpenedAsync("configmaps", _timeout.Token);

        Server.DisconnectWatches();

        Assert.Single(await watching);
        Assert.Equal(0, Server.Store.OpenWatches);
    }

    [Fact]
    public async Task Watch_ends_after_timeoutSeconds_on_the_server_clock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = clock });
        using var client = server.CreateClient();
        server.Seed(ConfigMap("a"));
        var watching = Take(client.CoreV1.WatchListNamespacedConfigMapAsync("default", timeoutSeconds: 60, cancellationToken: _timeout.Token), 2);
        await server.WatchOpenedAsync("configmaps", _timeout.Token);

        clock.Advance(TimeSpan.FromSeconds(60));

        Assert.Single(await watching);
    }

    [Fact]
    public async Task The_callback_Watcher_sees_events_and_the_close()
    {
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        var seen = new List<(WatchEventType, string)>();
        var closed = new TaskCompletionSource();
        Server.Seed(ConfigMap("a"));
        using var watcher = Client.CoreV1.WatchListNamespacedConfigMap("default", resourceVersion: list.Metadata.ResourceVersion,
            onEvent: (type, item) =>
            {
                lock (seen)
                {
                    seen.Add((type, item.Metadata.Name));
                }
                if (type == WatchEventType.Deleted)
                {
                    Server.DisconnectWatches();
                }
            }, onClosed: () => closed.TrySetResult());
        Server.Delete<V1ConfigMap>("default", "a");

        await closed.Task.WaitAsync(_timeout.Token);

        Assert.Equal([(WatchEventType.Added, "a"), (WatchEventType.Deleted, "a")], seen);
    }

    // Reads up to `count` events, or fewer if the server ends the stream.
    private static async Task<List<(WatchEventType Type, V1ConfigMap Object)>> Take(
        IAsyncEnumerable<(WatchEventType, V1ConfigMap)> stream, int count)
    {
        var events = new List<(WatchEventType, V1ConfigMap)>();
        await foreach (var e in stream)
        {
            events.Add(e);
            if (events.Count == count)
            {
                break;
            }
        }
        return events;
    }
}
