using k8s.Models;
using Laps.Kubernetes.Fake;
using Laps.Scheduler.Discovery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Tests;

/// <summary>
/// Two sidecar replicas on one Lease in the fake API server, through the real KubernetesClient. The client's elector
/// reads the wall clock, so this runs in real time: a short retry period against the default 15 s lease duration.
/// </summary>
public sealed class LeaseLeadershipTests
{
    private const string Namespace = "serving";
    private const string Lease = "chat-scheduler";

    [Fact]
    public async Task A_standby_leads_right_after_the_leader_shuts_down_without_waiting_out_the_lease()
    {
        // A third of the lease duration: without the release the standby would wait 15 s.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await using var server = await FakeKubernetesServer.StartAsync();
        using var client = server.CreateClient();
        var lifetime = new Lifetime();
        var a = Replica(client, "a", lifetime);
        var b = Replica(client, "b", lifetime);
        await a.StartAsync(timeout.Token);
        await a.WaitUntilLeadingAsync(timeout.Token);
        await b.StartAsync(timeout.Token);

        // The standby has read the Lease held by a (a's renewals and b's tries both read it).
        var reads = LeaseReads(server);
        while (LeaseReads(server) < reads + 4)
        {
            await Task.Delay(10, timeout.Token);
        }

        Assert.False(b.IsLeading);

        await a.StopAsync(timeout.Token);
        await b.WaitUntilLeadingAsync(timeout.Token);

        var lease = server.Get<V1Lease>(Namespace, Lease).Spec;
        Assert.Equal(("b", 1), (lease.HolderIdentity, lease.LeaseTransitions));
        await b.StopAsync(timeout.Token);
        Assert.Equal("", server.Get<V1Lease>(Namespace, Lease).Spec.HolderIdentity);
        Assert.False(lifetime.Stopped, "no replica lost the Lease");
    }

    private static LeaseLeadership Replica(k8s.IKubernetes client, string identity, Lifetime lifetime) => new(
        client,
        Options.Create(new SchedulerOptions
        {
            LeaderElection = new LeaderElectionOptions
            {
                Enabled = true,
                LeaseName = Lease,
                Namespace = Namespace,
                Identity = identity,
                RetryPeriod = TimeSpan.FromMilliseconds(100),
            },
        }),
        lifetime,
        NullLogger<LeaseLeadership>.Instance);

    private static int LeaseReads(FakeKubernetesServer server) => server.Requests.Count(r => r.Resource == "leases" && r.Verb == "get");

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public bool Stopped { get; private set; }

        public void StopApplication() => Stopped = true;
    }
}
