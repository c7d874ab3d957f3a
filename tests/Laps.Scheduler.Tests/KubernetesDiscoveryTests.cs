using System.Net;
using k8s;
using k8s.Models;
using Laps.Kubernetes.Fake;
using Microsoft.Extensions.DependencyInjection;

namespace Laps.Scheduler.Tests;

/// <summary>
/// The sidecar finds its workers from EndpointSlices on a fake API server, through the real KubernetesClient over
/// loopback HTTP. Workers are in-memory fakes named <c>worker-N:5000</c>, so slices list "worker-N" on port 5000.
/// </summary>
public sealed class KubernetesDiscoveryTests
{
    private const string Namespace = "team-a";
    private const string Service = "pool-workers";

    [Fact]
    public async Task ReadyEndpoints_BecomeWorkers_AndFollowTheSlice()
    {
        await using var api = await FakeKubernetesServer.StartAsync();
        api.Seed(Slice("pool-workers-a", ("worker-0", true), ("worker-1", false)));
        await using var sidecar = await StartAsync(api);

        await sidecar.Membership.WaitAsync(m => m.SequenceEqual(["worker-0:5000"]));
        using (var ok = await sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 }))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        api.Modify<V1EndpointSlice>(Namespace, "pool-workers-a", s => s.Endpoints[1].Conditions.Ready = true);
        await sidecar.Membership.WaitAsync(m => m.SequenceEqual(["worker-0:5000", "worker-1:5000"]));

        api.Delete<V1EndpointSlice>(Namespace, "pool-workers-a");
        await sidecar.Membership.WaitAsync(m => m.Length == 0);
        using var none = await sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, none.StatusCode);
    }

    [Fact]
    public async Task ExpiredWatch_Relists_AndSeesWhatChangedMeanwhile()
    {
        await using var api = await FakeKubernetesServer.StartAsync();
        api.Seed(Slice("pool-workers-a", ("worker-0", true)));
        await using var sidecar = await StartAsync(api);
        await sidecar.Membership.WaitAsync(m => m.SequenceEqual(["worker-0:5000"]));
        await api.WatchOpenedAsync("endpointslices").WaitAsync(EventLog<int>.Timeout);

        // Other writes move the cluster past the watch's version, the history is compacted and the watch breaks:
        // resuming from its version gets 410 Expired, so discovery must list again.
        api.Seed(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "unrelated", NamespaceProperty = Namespace } });
        api.Compact();
        api.DisconnectWatches();
        api.Seed(Slice("pool-workers-b", ("worker-1", true)));

        await sidecar.Membership.WaitAsync(m => m.SequenceEqual(["worker-0:5000", "worker-1:5000"]));
        Assert.True(
            api.Requests.Count(r => r.Verb == "list" && r.Resource == "endpointslices") >= 2,
            string.Join("\n", api.Requests.Select(r => $"{r.Verb} {r.Resource} {r.Query}")));
    }

    [Fact]
    public async Task SlicesOfOtherServices_AreIgnored()
    {
        await using var api = await FakeKubernetesServer.StartAsync();
        var other = Slice("other-x", ("worker-1", true));
        other.Metadata.Labels["kubernetes.io/service-name"] = "other";
        api.Seed(other);
        api.Seed(Slice("pool-workers-a", ("worker-0", true)));
        await using var sidecar = await StartAsync(api);

        await sidecar.Membership.WaitAsync(m => m.SequenceEqual(["worker-0:5000"]));
        Assert.DoesNotContain(sidecar.Membership.Snapshot(), m => m.Contains("worker-1:5000"));
    }

    private static Task<SidecarHarness> StartAsync(FakeKubernetesServer api) => SidecarHarness.StartAsync(
        new Dictionary<string, string?>
        {
            ["Scheduler:Discovery:Mode"] = "kubernetes",
            ["Scheduler:Discovery:Namespace"] = Namespace,
            ["Scheduler:Discovery:Selector"] = $"kubernetes.io/service-name={Service}",
        },
        workers: 2,
        services: s => s.AddSingleton<IKubernetes>(api.CreateClient()),
        staticWorkers: false);

    private static V1EndpointSlice Slice(string name, params (string Address, bool Ready)[] endpoints) => new()
    {
        ApiVersion = "discovery.k8s.io/v1",
        Kind = "EndpointSlice",
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = Namespace,
            Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = Service },
        },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = "grpc", Port = 5000 }],
        Endpoints = [.. endpoints.Select(e => new V1Endpoint { Addresses = [e.Address], Conditions = new V1EndpointConditions { Ready = e.Ready } })],
    };
}
