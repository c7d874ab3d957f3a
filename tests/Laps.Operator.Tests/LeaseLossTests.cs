using k8s.Models;
using Laps.Kubernetes.Fake;
using Laps.Operator.Hosting;
using Laps.Operator.Kube;
using Laps.Operator.Model;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Operator.Tests;

/// <summary>The operator's service (elector, controller) against the fake API server on a fake clock, losing its Lease mid-reconcile.</summary>
public sealed class LeaseLossTests
{
    private const string LeaseNamespace = "laps-system";

    [Fact]
    public async Task An_operator_that_loses_its_Lease_abandons_the_reconcile_in_flight_at_once_and_stops_the_process()
    {
        using var timeout = new CancellationTokenSource(OperatorHarness.Bound);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = time });
        using var hold = new HoldCreates("deployments");
        using var client = new k8s.Kubernetes(server.ClientConfiguration(), new KubeApi.CoreGroupHandler(), hold);
        var metrics = new OperatorMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var lifetime = new Lifetime();
        var options = new OperatorOptions { LeaseNamespace = LeaseNamespace, Identity = "op-0", DefaultImage = "laps:test" };
        using var service = new OperatorService(new KubeApi(client), options, metrics, time, NullLoggerFactory.Instance, lifetime);
        await service.StartAsync(timeout.Token);

        // A reconcile is in flight: the first Deployment's create is held on its way to the API server.
        server.Seed(new InferencePool { Metadata = new V1ObjectMeta { Name = "chat", NamespaceProperty = OperatorHarness.Ns } });
        await hold.Entered.WaitAsync(timeout.Token);
        Assert.True(service.Ready);

        // Another instance holds the Lease now (this one was cut off long enough); the next renewal sees it.
        var takenAt = time.GetUtcNow().UtcDateTime;
        server.Modify<V1Lease>(LeaseNamespace, options.LeaseName, l =>
        {
            l.Spec.HolderIdentity = "op-1";
            l.Spec.AcquireTime = takenAt;
            l.Spec.RenewTime = takenAt;
            l.Spec.LeaseTransitions = (l.Spec.LeaseTransitions ?? 0) + 1;
        });
        time.Advance(TimeSpan.FromSeconds(2));

        // Cancelled at once, not after the shutdown grace period (which runs on the fake clock, not advanced any more).
        await hold.Cancelled.WaitAsync(timeout.Token);
        await lifetime.Stopping.WaitAsync(timeout.Token);
        Assert.False(service.Ready);
        Assert.Equal(0, metrics.Leader.Value);
        Assert.Null(server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-workers"));
        Assert.Equal("op-1", server.Get<V1Lease>(LeaseNamespace, options.LeaseName).Spec.HolderIdentity);
        await service.StopAsync(timeout.Token);
    }

    [Fact]
    public async Task An_operator_that_shuts_down_releases_its_Lease_so_the_next_candidate_leads_without_waiting_for_it_to_expire()
    {
        using var timeout = new CancellationTokenSource(OperatorHarness.Bound);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = time });
        using var client = KubeApi.CreateClient(server.ClientConfiguration());
        var metrics = new OperatorMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var lifetime = new Lifetime();
        OperatorService Instance(string identity) => new(
            new KubeApi(client), new OperatorOptions { LeaseNamespace = LeaseNamespace, Identity = identity, DefaultImage = "laps:test" },
            metrics, time, NullLoggerFactory.Instance, lifetime);
        using var first = Instance("op-0");
        using var second = Instance("op-1");
        await first.StartAsync(timeout.Token);
        while (!first.Ready)
        {
            await Task.Delay(5, timeout.Token);
        }

        await first.StopAsync(timeout.Token);

        // No time passes: the second leads on its first try only because the Lease was released.
        await second.StartAsync(timeout.Token);
        while (!second.Ready)
        {
            await Task.Delay(5, timeout.Token);
        }

        var lease = server.Get<V1Lease>(LeaseNamespace, "laps-operator").Spec;
        Assert.Equal(("op-1", 1), (lease.HolderIdentity, lease.LeaseTransitions));
        await second.StopAsync(timeout.Token);
        Assert.False(lifetime.Stopping.IsCompleted);
    }

    /// <summary>Holds every create of one resource until its request is cancelled.</summary>
    private sealed class HoldCreates(string resource) : DelegatingHandler
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public Task Cancelled => _cancelled.Task;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method != HttpMethod.Post || !request.RequestUri!.AbsolutePath.EndsWith("/" + resource, StringComparison.Ordinal))
            {
                return await base.SendAsync(request, cancellationToken);
            }

            _entered.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                _cancelled.TrySetResult();
            }

            throw new InvalidOperationException("unreachable");
        }
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Stopping => _stopping.Task;

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopping.TrySetResult();
    }
}
