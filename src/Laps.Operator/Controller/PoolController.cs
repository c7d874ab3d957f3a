using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using Laps.Operator.Desired;
using Laps.Operator.Hosting;
using Laps.Operator.Kube;
using Laps.Operator.Model;
using Microsoft.Extensions.Logging;

namespace Laps.Operator.Controller;

/// <summary>
/// One leadership term: informers for pools and the kinds they own feed pool keys into the work queue; workers take
/// keys and reconcile. <see cref="RunAsync"/> returns when cancelled, after in-flight reconciles finished (they get a
/// grace period on the <see cref="TimeProvider"/>, then their own cancellation), or at once when aborted (the Lease
/// was lost: another instance may already be writing).
/// </summary>
public sealed class PoolController
{
    private readonly KubeApi _api;
    private readonly OperatorSettings _settings;
    private readonly ClusterCapabilities _capabilities;
    private readonly OperatorMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly string _identity;
    private readonly TimeSpan _shutdownGrace;
    private readonly TimeSpan? _watchTimeout;

    // Pools whose last reconcile failed: the next success is a recovery.
    private readonly ConcurrentDictionary<string, bool> _failing = new(StringComparer.Ordinal);

    public PoolController(
        KubeApi api, OperatorSettings settings, ClusterCapabilities capabilities, OperatorMetrics metrics, TimeProvider time,
        ILoggerFactory loggers, string identity, TimeSpan? shutdownGrace = null, TimeSpan? watchTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        _api = api;
        _settings = settings;
        _capabilities = capabilities;
        _metrics = metrics;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<PoolController>();
        _identity = identity;
        _shutdownGrace = shutdownGrace ?? TimeSpan.FromSeconds(10);
        _watchTimeout = watchTimeout;
    }

    /// <summary>True once every informer has listed (the caches are usable).</summary>
    public bool Synced { get; private set; }

    /// <summary>Runs until <paramref name="ct"/> is cancelled; <paramref name="abort"/> also cancels reconciles in flight at once.</summary>
    public async Task RunAsync(CancellationToken ct, CancellationToken abort = default)
    {
        using var queue = new WorkQueue(_time);
        var ns = _settings.WatchNamespace;
        var pools = new Informer<InferencePool>(_api, KindInfo.Pool, ns, null, _time, _loggers.CreateLogger("Laps.Operator.Informer.InferencePool"), _watchTimeout);
        pools.Changed += (_, pool) => Enqueue(queue, ObjectKey.Of(pool));
        var owned = new Dictionary<KindInfo, IInformer>();
        foreach (var (kind, type) in KindInfo.Owned)
        {
            if (kind == KindInfo.ServiceMonitor && !_capabilities.ServiceMonitorCrd)
            {
                continue;
            }

            owned[kind] = OwnedInformer(kind, type, ns, queue);
        }

        // Worker pods carry the pool's labels (their owner is a ReplicaSet): a pod that cannot start degrades its pool.
        var pods = new Informer<V1Pod>(_api, KindInfo.Pod, ns, PoolLabels.ManagedBy, _time, _loggers.CreateLogger("Laps.Operator.Informer.Pod"), _watchTimeout);
        pods.Changed += (_, pod) =>
        {
            if (pod.Metadata.Labels?.TryGetValue(PoolLabels.Pool, out var pool) == true)
            {
                Enqueue(queue, ObjectKey.Of(pod.Metadata.NamespaceProperty, pool));
            }
        };
        var reconciler = new Reconciler(
            _api, pools, owned, _settings, _capabilities, new EventRecorder(_api, _time, _logger, _identity), _time, _logger, pods);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, abort);
        using var stopInformers = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        IInformer[] watched = [pools, pods, .. owned.Values];
        var informers = watched.Select(i => i.RunAsync(stopInformers.Token)).ToList();
        using var hardStop = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using var onAbort = abort.Register(() =>
        {
            queue.ShutDown();
            hardStop.Cancel();
        });
        var workers = new List<Task>();
        try
        {
            await Task.WhenAll(watched.Select(i => i.Synced)).WaitAsync(stop.Token).ConfigureAwait(false);
            Synced = true;
            for (var i = 0; i < Math.Max(1, _settings.Workers); i++)
            {
                workers.Add(WorkAsync(queue, reconciler, hardStop.Token));
            }

            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            Synced = false;
            // Stop taking keys; let what is in flight finish within the grace period, then cancel it (aborted: already).
            queue.ShutDown();
            hardStop.CancelAfter(_shutdownGrace);
            await Task.WhenAll(workers).ConfigureAwait(false);
            await stopInformers.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(informers).ConfigureAwait(false);
            _metrics.WorkQueueDepth.Set(0);
        }
    }

    private IInformer OwnedInformer(KindInfo kind, Type type, string ns, WorkQueue queue) => type.Name switch
    {
        nameof(V1ServiceAccount) => Owned<V1ServiceAccount>(kind, ns, queue),
        nameof(V1Role) => Owned<V1Role>(kind, ns, queue),
        nameof(V1RoleBinding) => Owned<V1RoleBinding>(kind, ns, queue),
        nameof(V1Secret) => Owned<V1Secret>(kind, ns, queue),
        nameof(V1ConfigMap) => Owned<V1ConfigMap>(kind, ns, queue),
        nameof(V1Service) => Owned<V1Service>(kind, ns, queue),
        nameof(V1Deployment) => Owned<V1Deployment>(kind, ns, queue),
        nameof(V1PodDisruptionBudget) => Owned<V1PodDisruptionBudget>(kind, ns, queue),
        nameof(V1NetworkPolicy) => Owned<V1NetworkPolicy>(kind, ns, queue),
        nameof(ServiceMonitor) => Owned<ServiceMonitor>(kind, ns, queue),
        _ => throw new ArgumentException($"no informer for {type.Name}", nameof(type)),
    };

    // Owned objects map to the key of the pool that controls them.
    private Informer<T> Owned<T>(KindInfo kind, string ns, WorkQueue queue)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var informer = new Informer<T>(_api, kind, ns, PoolLabels.ManagedBy, _time, _loggers.CreateLogger($"Laps.Operator.Informer.{kind.Kind}"), _watchTimeout);
        informer.Changed += (_, o) =>
        {
            var owner = o.Metadata.OwnerReferences?.FirstOrDefault(r => r.Controller == true && r.Kind == InferencePool.KindName && r.ApiVersion == InferencePool.GroupVersion);
            if (owner is not null)
            {
                Enqueue(queue, ObjectKey.Of(o.Metadata.NamespaceProperty, owner.Name));
            }
        };
        return informer;
    }

    private void Enqueue(WorkQueue queue, string key)
    {
        queue.Add(key);
        _metrics.WorkQueueDepth.Set(queue.Depth);
    }

    private async Task WorkAsync(WorkQueue queue, Reconciler reconciler, CancellationToken hardStop)
    {
        await Task.Yield();
        while (await queue.GetAsync(CancellationToken.None).ConfigureAwait(false) is { } key)
        {
            _metrics.WorkQueueDepth.Set(queue.Depth);
            var started = _time.GetTimestamp();
            ReconcileResult result;
            try
            {
                result = await reconciler.ReconcileAsync(key, hardStop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
            {
                queue.Done(key);
                return;
            }
#pragma warning disable CA1031 // One pool's surprise must not stop the others: count it, back off, go on.
            catch (Exception e)
#pragma warning restore CA1031
            {
                if (_logger.IsEnabled(LogLevel.Error))
                {
                    _logger.LogError(e, "reconcile of {Pool} threw", key);
                }

                result = ReconcileResult.Error;
            }

            _metrics.ReconcileDuration.Observe(_time.GetElapsedTime(started).TotalSeconds);
            switch (result)
            {
                case ReconcileResult.Success:
                    _metrics.ReconcileTotal.WithLabels("success").Inc();
                    if (_failing.TryRemove(key, out _))
                    {
                        _metrics.ReconcileRecovered.Inc();
                    }

                    queue.Forget(key);
                    break;
                case ReconcileResult.Requeue:
                    _metrics.ReconcileTotal.WithLabels("requeue").Inc();
                    queue.AddRateLimited(key);
                    break;
                default:
                    _metrics.ReconcileTotal.WithLabels("error").Inc();
                    _metrics.ReconcileErrors.Inc();
                    _failing[key] = true;
                    queue.AddRateLimited(key);
                    break;
            }

            queue.Done(key);
            _metrics.WorkQueueDepth.Set(queue.Depth);
        }
    }
}
