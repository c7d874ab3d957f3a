using k8s;
using k8s.Models;
using Laps.Kubernetes.Fake;
using Laps.Operator.Controller;
using Laps.Operator.Hosting;
using Laps.Operator.Kube;
using Laps.Operator.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace Laps.Operator.Tests;

/// <summary>
/// The pool controller against the fake API server over loopback, with the real client. Time is fake: backoffs and
/// delayed requeues move only when a test advances it. Each wait is bounded (<see cref="Bound"/>).
/// </summary>
internal sealed class OperatorHarness : IAsyncDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    public const string Ns = "serving";

    private CancellationTokenSource _stop = new();
    private Task _run = Task.CompletedTask;

    private OperatorHarness(FakeKubernetesServer server, FakeTimeProvider time)
    {
        Server = server;
        Time = time;
        Client = KubeApi.CreateClient(server.ClientConfiguration());
        Api = new KubeApi(Client);
        Registry = Prometheus.Metrics.NewCustomRegistry();
        Metrics = new OperatorMetrics(Prometheus.Metrics.WithCustomRegistry(Registry));
    }

    public FakeKubernetesServer Server { get; }

    public FakeTimeProvider Time { get; }

    public k8s.Kubernetes Client { get; }

    public KubeApi Api { get; }

    public CollectorRegistry Registry { get; }

    public OperatorMetrics Metrics { get; }

    public PoolController? Controller { get; private set; }

    public static async Task<OperatorHarness> StartAsync(bool serviceMonitorCrd = false, bool run = true)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var server = await FakeKubernetesServer.StartAsync(new FakeKubernetesOptions { Time = time });
        if (serviceMonitorCrd)
        {
            server.InstallServiceMonitorCrd();
        }

        var harness = new OperatorHarness(server, time);
        if (run)
        {
            harness.Run(new ClusterCapabilities(serviceMonitorCrd));
        }

        return harness;
    }

    public void Run(ClusterCapabilities capabilities)
    {
        Controller = new PoolController(
            Api, new OperatorSettings { DefaultImage = "laps:test" }, capabilities, Metrics, Time, NullLoggerFactory.Instance, "test-operator");
        _run = Controller.RunAsync(_stop.Token);
    }

    /// <summary>Stops the controller (as a shutdown would); <see cref="Run"/> starts a new one, with fresh caches.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(Bound);
        _stop.Dispose();
        _stop = new CancellationTokenSource();
    }

    public InferencePool CreatePool(string name, Action<InferencePoolSpec>? spec = null)
    {
        var pool = new InferencePool { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns }, Spec = new InferencePoolSpec() };
        spec?.Invoke(pool.Spec);
        return Server.Seed(pool);
    }

    public InferencePool Pool(string name) => Server.Get<InferencePool>(Ns, name);

    public InferencePool ChangeSpec(string name, Action<InferencePoolSpec> change) => Server.Modify<InferencePool>(Ns, name, p => change(p.Spec));

    /// <summary>Plays the kubelet and the Deployment controller: every replica of the Deployment is up and ready.</summary>
    public void AllReplicasReady(string deployment) => Server.Modify<V1Deployment>(Ns, deployment, d => d.Status = new V1DeploymentStatus
    {
        ObservedGeneration = d.Metadata.Generation,
        Replicas = d.Spec.Replicas,
        UpdatedReplicas = d.Spec.Replicas,
        ReadyReplicas = d.Spec.Replicas,
        AvailableReplicas = d.Spec.Replicas,
    });

    public V1Condition? Condition(string pool, string type) => PoolStatus.Find(Pool(pool).Status, type);

    public double Counter(string result) => Metrics.ReconcileTotal.WithLabels(result).Value;

    /// <summary>Waits until <paramref name="condition"/> holds; with <paramref name="advance"/>, moves fake time on between looks.</summary>
    public async Task UntilAsync(Func<bool> condition, string what, TimeSpan? advance = null, TimeSpan? bound = null)
    {
        using var timeout = new CancellationTokenSource(bound ?? Bound);
        while (!Holds(condition))
        {
            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"timed out waiting for: {what}");
            }

            if (advance is { } step)
            {
                Time.Advance(step);
            }

            await Task.Delay(5, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(Bound);
        _stop.Dispose();
        Client.Dispose();
        await Server.DisposeAsync();
    }

    private static bool Holds(Func<bool> condition)
    {
        try
        {
            return condition();
        }
        catch (Laps.Kubernetes.Fake.ApiException)
        {
            return false;
        }
    }
}
