using k8s;
using k8s.Models;
using Laps.Kubernetes.Fake;
using Laps.Operator.Controller;
using Laps.Operator.Kube;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Operator.Tests;

/// <summary>The informer against the fake API server: list, watch, bookmarks, expiry.</summary>
public sealed class InformerTests : IAsyncLifetime, IDisposable
{
    private const string Ns = "serving";
    private readonly FakeTimeProvider _time = new();
    private CancellationTokenSource _stop = new();
    private readonly List<(WatchEventType Type, string Name)> _events = [];
    private FakeKubernetesServer _server = null!;
    private k8s.Kubernetes _client = null!;
    private Informer<V1ConfigMap> _informer = null!;
    private Task _run = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = _time });
        _client = KubeApi.CreateClient(_server.ClientConfiguration());
        _informer = new Informer<V1ConfigMap>(new KubeApi(_client), KindInfo.ConfigMap, Ns, "app=x", _time, NullLogger.Instance);
        _informer.Changed += (type, cm) =>
        {
            lock (_events)
            {
                _events.Add((type, cm.Metadata.Name));
            }
        };
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(OperatorHarness.Bound);
        _client.Dispose();
        await _server.DisposeAsync();
    }

    public void Dispose() => _stop.Dispose();

    [Fact]
    public async Task Lists_only_the_selected_objects_then_follows_changes()
    {
        Seed("a", "x");
        Seed("other", "y");
        await StartAsync();

        Seed("b", "x");
        _server.Modify<V1ConfigMap>(Ns, "a", c => c.Data = new Dictionary<string, string> { ["k"] = "v" });
        _server.Delete<V1ConfigMap>(Ns, "b");

        await Until(() => Events().Count >= 4, "four events");
        Assert.Equal([(WatchEventType.Added, "a"), (WatchEventType.Added, "b"), (WatchEventType.Modified, "a"), (WatchEventType.Deleted, "b")], Events());
        Assert.Equal(["a"], _informer.List().Select(c => c.Metadata.Name));
        Assert.Equal("v", _informer.Get(Ns, "a")!.Data["k"]);
    }

    [Fact]
    public async Task A_bookmark_moves_the_resource_version_without_an_event()
    {
        Seed("a", "x");
        await StartAsync();
        Seed("unselected", "y");
        var before = _informer.ResourceVersion;

        _server.SendBookmarks();

        await Until(() => _informer.ResourceVersion != before, "a newer resourceVersion");
        Assert.Equal([(WatchEventType.Added, "a")], Events());
    }

    [Fact]
    public async Task An_expired_watch_relists_and_reports_what_vanished_meanwhile()
    {
        Seed("a", "x");
        Seed("b", "x");
        await StartAsync();

        // While the informer is stopped, b goes and c comes, and the history is compacted away.
        await StopAsync();
        _server.Delete<V1ConfigMap>(Ns, "b");
        Seed("c", "x");
        _server.Compact();
        _server.ClearRequests();
        _run = _informer.RunAsync(_stop.Token);

        await Until(() => _informer.Lists == 2 && _informer.Get(Ns, "c") is not null, "a relist", advance: true);
        Assert.Contains((WatchEventType.Deleted, "b"), Events());
        // The old resourceVersion was refused (410), so it listed again (and then watches from the new one).
        Assert.Equal(["watch", "list"], _server.Requests.Select(r => r.Verb).Take(2));
        Assert.Equal(["a", "c"], _informer.List().Select(c => c.Metadata.Name).Order());
    }

    [Fact]
    public async Task A_watch_the_server_closes_resumes_from_the_last_resource_version_without_a_relist()
    {
        Seed("a", "x");
        await StartAsync();

        _server.DisconnectWatches();
        Seed("b", "x");

        await Until(() => _informer.Get(Ns, "b") is not null, "b seen", advance: true);
        Assert.Equal(1, _informer.Lists);
    }

    private async Task StartAsync()
    {
        _run = _informer.RunAsync(_stop.Token);
        await _informer.Synced.WaitAsync(OperatorHarness.Bound);
        await _server.WatchOpenedAsync("configmaps").WaitAsync(OperatorHarness.Bound);
    }

    private async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(OperatorHarness.Bound);
        _stop = new CancellationTokenSource();
    }

    private void Seed(string name, string app)
        => _server.Seed(new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns, Labels = new Dictionary<string, string> { ["app"] = app } },
        });

    private List<(WatchEventType, string)> Events()
    {
        lock (_events)
        {
            return [.. _events];
        }
    }

    private async Task Until(Func<bool> condition, string what, bool advance = false)
    {
        using var timeout = new CancellationTokenSource(OperatorHarness.Bound);
        while (!condition())
        {
            Assert.False(timeout.IsCancellationRequested, $"timed out waiting for: {what}");
            if (advance)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
            }

            await Task.Delay(5, CancellationToken.None);
        }
    }
}
