using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using Laps.Kubernetes.Fake;
using Laps.Operator.Hosting;
using Laps.Operator.Kube;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Operator.Tests;

/// <summary>Two operator instances on one Lease in the fake API server, on one fake clock.</summary>
public sealed class LeaseElectorTests : IAsyncLifetime
{
    private const string Ns = "laps-system";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private FakeKubernetesServer _server = null!;
    private k8s.Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = _time });
        _client = KubeApi.CreateClient(_server.ClientConfiguration());
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Only_one_instance_leads_and_a_standby_takes_over_when_the_leader_shuts_down()
    {
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var a = Elector("a");
        var b = Elector("b");
        var termsA = 0;
        var termsB = 0;
        var runA = a.RunAsync(t => Lead(ref termsA, t.Ending), stopA.Token);
        await Until(() => a.IsLeader, "a leads");
        var runB = b.RunAsync(t => Lead(ref termsB, t.Ending), stopB.Token);

        // b keeps trying for longer than a lease, but a renews.
        for (var i = 0; i < 20; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        Assert.True(a.IsLeader);
        Assert.False(b.IsLeader);
        Assert.Equal(0, Volatile.Read(ref termsB));

        await stopA.CancelAsync();
        await runA.WaitAsync(OperatorHarness.Bound);

        // The term starts on the thread pool just after IsLeader turns true.
        await Until(() => b.IsLeader && Volatile.Read(ref termsB) == 1, "b leads after a released the Lease", advance: TimeSpan.FromSeconds(1));
        Assert.Equal("b", _server.Get<V1Lease>(Ns, "laps-operator").Spec.HolderIdentity);
        Assert.Equal(1, Volatile.Read(ref termsA));
        await stopB.CancelAsync();
        await runB.WaitAsync(OperatorHarness.Bound);
    }

    [Fact]
    public async Task A_Lease_held_by_a_silent_instance_is_taken_only_after_it_expires()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        _server.Seed(new V1Lease
        {
            ApiVersion = "coordination.k8s.io/v1",
            Kind = "Lease",
            Metadata = new V1ObjectMeta { Name = "laps-operator", NamespaceProperty = Ns },
            Spec = new V1LeaseSpec { HolderIdentity = "crashed", LeaseDurationSeconds = 15, AcquireTime = now, RenewTime = now, LeaseTransitions = 0 },
        });
        using var stop = new CancellationTokenSource();
        var b = Elector("b");
        var terms = 0;
        var run = b.RunAsync(t => Lead(ref terms, t.Ending), stop.Token);
        await Until(() => _server.Requests.Any(r => r.Resource == "leases"), "b looked at the Lease");

        for (var i = 0; i < 12; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        Assert.False(b.IsLeader);
        await Until(() => b.IsLeader, "b leads once the lease expired", advance: TimeSpan.FromSeconds(1));
        Assert.True(_time.GetUtcNow().UtcDateTime - now >= TimeSpan.FromSeconds(15));
        Assert.Equal(1, _server.Get<V1Lease>(Ns, "laps-operator").Spec.LeaseTransitions);
        await stop.CancelAsync();
        await run.WaitAsync(OperatorHarness.Bound);
    }

    [Fact]
    public async Task A_leader_that_cannot_renew_stops_leading_and_cancels_its_term()
    {
        using var stop = new CancellationTokenSource();
        var a = Elector("a");
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = a.RunAsync(async t =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, t.Ending);
            }
            finally
            {
                cancelled.TrySetResult();
            }
        }, stop.Token);
        await Until(() => a.IsLeader, "a leads");

        _server.InjectFault("*", "leases", 503, times: 1000);

        await Until(() => !a.IsLeader, "a stepped down", advance: TimeSpan.FromSeconds(1));
        await cancelled.Task.WaitAsync(OperatorHarness.Bound);
        await stop.CancelAsync();
        await run.WaitAsync(OperatorHarness.Bound);
    }

    private LeaseElector Elector(string identity)
        => new(new LeaseLock(_client, Ns, "laps-operator", identity), _time, NullLogger.Instance);

    private static Task Lead(ref int terms, CancellationToken ct)
    {
        Interlocked.Increment(ref terms);
        return Hold(ct);
    }

    private static async Task Hold(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task Until(Func<bool> condition, string what, TimeSpan? advance = null)
    {
        using var timeout = new CancellationTokenSource(OperatorHarness.Bound);
        while (!condition())
        {
            Assert.False(timeout.IsCancellationRequested, $"timed out waiting for: {what}");
            if (advance is { } step)
            {
                _time.Advance(step);
            }

            await Task.Delay(5, CancellationToken.None);
        }
    }
}
