using System.Net;
using System.Text.Json;
using k8s;
using k8s.Models;
using Laps.Operator.Desired;
using Laps.Operator.Kube;
using Laps.Operator.Model;
using Microsoft.Extensions.Logging;

namespace Laps.Operator.Controller;

public enum ReconcileResult
{
    /// <summary>Done; the next change will bring the key back.</summary>
    Success,

    /// <summary>Someone wrote first (409): try again soon, with backoff, not an error.</summary>
    Requeue,

    /// <summary>Failed (API unavailable, rejected write): back off and retry.</summary>
    Error,
}

/// <summary>
/// Level-based reconcile of one pool: read it from the cache, build the desired objects (pure), write only those that
/// differ from what exists (create, or GET + compare + PUT with the live resourceVersion), delete owned objects no
/// longer desired, and write the status only if it changed. An object is current when it holds every field the
/// operator sets (<see cref="OwnedFields"/>: what the API server defaults is not looked at, an edit by hand to an
/// owned field is put back). A hash of the desired form, kept in an annotation that is one of those fields, also
/// rewrites the whole object when the desired form changed, so a field the operator stopped setting goes away. An
/// existing object that this pool does not control (by its controller owner reference) is never written, adopted or
/// deleted: the pool reports it (Degraded/ObjectNotOwned) and the reconcile is retried with backoff.
/// </summary>
public sealed class Reconciler(
    KubeApi api,
    IInformer pools,
    IReadOnlyDictionary<KindInfo, IInformer> owned,
    OperatorSettings settings,
    ClusterCapabilities capabilities,
    EventRecorder events,
    TimeProvider time,
    ILogger logger,
    IInformer? pods = null)
{
    public const string DesiredHash = "laps.dev/desired-hash";

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken ct)
    {
        var (ns, name) = ObjectKey.Split(key);
        if (pools.Find(ns, name) is not InferencePool pool || pool.Metadata.DeletionTimestamp is not null)
        {
            // Gone: its objects carry owner references, and the garbage collector removes them.
            return ReconcileResult.Success;
        }

        var resolved = ResolvedPool.From(pool, settings);
        var specErrors = SpecValidator.Validate(resolved);
        var result = ReconcileResult.Success;
        string? applyError = null;
        IReadOnlyList<string> notOwned = [];
        if (specErrors.Count == 0)
        {
            try
            {
                (result, notOwned) = await ApplyAsync(pool, DesiredState.Build(pool, settings, capabilities), ct).ConfigureAwait(false);

                // Retried with backoff: nothing announces the removal of an object that is not the pool's.
                if (notOwned.Count > 0 && result == ReconcileResult.Success)
                {
                    result = ReconcileResult.Error;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                applyError = KubeApi.StatusOf(e) is { } code ? $"{(int)code} {code}: {Brief(e)}" : Brief(e);
                result = ReconcileResult.Error;
                if (logger.IsEnabled(LogLevel.Warning))
                {
                    logger.LogWarning(e, "applying {Pool} failed", key);
                }
            }
        }

        var workers = ControlledDeployment(ns, resolved.WorkersName, pool.Metadata.Uid);
        var scheduler = ControlledDeployment(ns, resolved.SchedulerName, pool.Metadata.Uid);
        var status = PoolStatus.Compute(resolved, pool.Status, workers, scheduler, specErrors, applyError, time.GetUtcNow(), notOwned, FailingWorkers(ns, name));
        if (PoolStatus.Same(status, pool.Status))
        {
            return result;
        }

        try
        {
            await WriteStatusAsync(pool, status, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (KubeApi.StatusOf(e) == HttpStatusCode.Conflict)
        {
            return result == ReconcileResult.Error ? result : ReconcileResult.Requeue;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.LogWarning(e, "writing the status of {Pool} failed", key);
            }

            return ReconcileResult.Error;
        }

        await AnnounceAsync(pool, status, ct).ConfigureAwait(false);
        return result;
    }

    // Writes what differs; returns, for each existing object of a desired name that is not this pool's, why it was left alone.
    private async Task<(ReconcileResult Result, IReadOnlyList<string> NotOwned)> ApplyAsync(
        InferencePool pool, IReadOnlyList<IKubernetesObject<V1ObjectMeta>> desired, CancellationToken ct)
    {
        var uid = pool.Metadata.Uid;
        var notOwned = new List<string>();
        foreach (var obj in desired)
        {
            var kind = KindInfo.Of(obj);
            var hash = DesiredState.Hash(KubernetesJson.Serialize(obj));
            obj.Metadata.Annotations ??= new Dictionary<string, string>(StringComparer.Ordinal);
            obj.Metadata.Annotations[DesiredHash] = hash;
            var fields = OwnedFields.Of(obj);
            var ns = obj.Metadata.NamespaceProperty;
            var name = obj.Metadata.Name;
            if (owned.TryGetValue(kind, out var cache) && cache.Find(ns, name) is { } cached
                && Controlled(cached.Metadata, uid) && OwnedFields.HeldBy(fields, cached))
            {
                continue;
            }

            // The cache may lag our own writes: decide on a fresh read.
            var live = await api.GetAsync<JsonElement?>(kind, ns, name, ct).ConfigureAwait(false);
            if (live is not { } element)
            {
                try
                {
                    await api.CreateAsync(kind, DesiredState.ForCreate(obj), ct).ConfigureAwait(false);
                }
                catch (Exception e) when (KubeApi.StatusOf(e) == HttpStatusCode.Conflict)
                {
                    return (ReconcileResult.Requeue, notOwned);
                }

                await events.RecordAsync(pool, EventRecorder.Normal, "Created", $"Created {kind.Kind} {name}", ct).ConfigureAwait(false);
                continue;
            }

            var liveMeta = KubernetesJson.Deserialize<V1ObjectMeta>(element.GetProperty("metadata"));
            if (!Controlled(liveMeta, uid))
            {
                // Never adopted: whoever may edit this pool could otherwise overwrite what they may not edit (a Role).
                var controller = liveMeta.OwnerReferences?.FirstOrDefault(o => o.Controller == true);
                notOwned.Add($"{kind.Kind} {name} exists and is not this pool's ("
                    + (controller is null ? "no controller owner reference" : $"controlled by {controller.Kind} {controller.Name}")
                    + "): left alone; delete it or rename the pool");
                continue;
            }

            if (OwnedFields.HeldBy(fields, element))
            {
                continue;
            }

            obj.Metadata.ResourceVersion = liveMeta.ResourceVersion;
            KeepAllocated(obj, element);
            try
            {
                await api.ReplaceAsync(kind, obj, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (KubeApi.StatusOf(e) == HttpStatusCode.Conflict)
            {
                return (ReconcileResult.Requeue, notOwned);
            }

            await events.RecordAsync(pool, EventRecorder.Normal, "Updated", $"Updated {kind.Kind} {name}", ct).ConfigureAwait(false);
        }

        await PruneAsync(pool, desired, ct).ConfigureAwait(false);
        return (ReconcileResult.Success, notOwned);
    }

    // Objects this pool controls that it no longer wants (a ServiceMonitor switched off).
    private async Task PruneAsync(InferencePool pool, IReadOnlyList<IKubernetesObject<V1ObjectMeta>> desired, CancellationToken ct)
    {
        var wanted = desired.Select(o => (KindInfo.Of(o), o.Metadata.Name)).ToHashSet();
        foreach (var (kind, cache) in owned)
        {
            foreach (var o in cache.All())
            {
                if (o.Metadata.NamespaceProperty == pool.Metadata.NamespaceProperty
                    && o.Metadata.OwnerReferences?.Any(r => r.Controller == true && r.Uid == pool.Metadata.Uid) == true
                    && !wanted.Contains((kind, o.Metadata.Name)))
                {
                    await api.DeleteAsync(kind, o.Metadata.NamespaceProperty, o.Metadata.Name, o.Metadata.Uid, ct).ConfigureAwait(false);
                    await events.RecordAsync(pool, EventRecorder.Normal, "Deleted", $"Deleted {kind.Kind} {o.Metadata.Name}", ct).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task WriteStatusAsync(InferencePool pool, InferencePoolStatus status, CancellationToken ct)
    {
        var update = new InferencePool
        {
            Metadata = new V1ObjectMeta
            {
                Name = pool.Metadata.Name,
                NamespaceProperty = pool.Metadata.NamespaceProperty,
                ResourceVersion = pool.Metadata.ResourceVersion,
                Uid = pool.Metadata.Uid,
            },
            Spec = pool.Spec,
            Status = status,
        };
        await api.ReplaceStatusAsync(KindInfo.Pool, update, ct).ConfigureAwait(false);
    }

    // One event per transition of Degraded (the status write happens only on a change).
    private async Task AnnounceAsync(InferencePool pool, InferencePoolStatus status, CancellationToken ct)
    {
        var now = PoolStatus.Find(status, Conditions.Degraded);
        var before = PoolStatus.Find(pool.Status, Conditions.Degraded);
        if (now is { Status: "True" } && (before?.Status != "True" || before.Reason != now.Reason || before.Message != now.Message))
        {
            await events.RecordAsync(pool, EventRecorder.Warning, now.Reason, now.Message, ct).ConfigureAwait(false);
        }

        var ready = PoolStatus.Find(status, Conditions.Ready);
        if (ready is { Status: "True" } && PoolStatus.Find(pool.Status, Conditions.Ready)?.Status != "True")
        {
            await events.RecordAsync(pool, EventRecorder.Normal, ready.Reason, ready.Message, ct).ConfigureAwait(false);
        }

        var open = PoolStatus.Find(status, Conditions.OpenEndpoint);
        if (open is { Status: "True" } && PoolStatus.Find(pool.Status, Conditions.OpenEndpoint)?.Status != "True")
        {
            await events.RecordAsync(pool, EventRecorder.Warning, open.Reason, open.Message, ct).ConfigureAwait(false);
        }
    }

    // The pool's worker pods (by their labels: a pod's owner is a ReplicaSet) that cannot start.
    private IReadOnlyList<string> FailingWorkers(string ns, string pool)
    {
        if (pods is null)
        {
            return [];
        }

        var selector = PoolLabels.Selector(pool, PoolLabels.Worker);
        return PoolStatus.FailingWorkers(pods.All().OfType<V1Pod>().Where(p =>
            p.Metadata.NamespaceProperty == ns && selector.All(l => p.Metadata.Labels?.TryGetValue(l.Key, out var v) == true && v == l.Value)));
    }

    private static bool Controlled(V1ObjectMeta meta, string uid)
        => meta.OwnerReferences?.Any(r => r.Controller == true && r.Uid == uid) == true;

    // The pool's own Deployment of that name (a same-named one it does not control says nothing about the pool).
    private V1Deployment? ControlledDeployment(string ns, string name, string uid)
        => owned[KindInfo.Deployment].Find(ns, name) is V1Deployment d && Controlled(d.Metadata, uid) ? d : null;

    // A PUT replaces the whole object: carry over what the API server allocated and we never set (a Secret's token).
    private static void KeepAllocated(IKubernetesObject<V1ObjectMeta> obj, JsonElement live)
    {
        if (obj is V1Secret secret)
        {
            secret.Data ??= KubernetesJson.Deserialize<V1Secret>(live).Data;
        }

        if (obj is V1Service { Spec: { } spec } && live.TryGetProperty("spec", out var liveSpec))
        {
            var current = KubernetesJson.Deserialize<V1ServiceSpec>(liveSpec);
            spec.ClusterIP ??= current.ClusterIP;
            spec.ClusterIPs ??= current.ClusterIPs;
            if (spec.Type == current.Type && current.Ports is { } ports)
            {
                foreach (var port in spec.Ports ?? [])
                {
                    port.NodePort ??= ports.FirstOrDefault(p => p.Name == port.Name)?.NodePort;
                }
            }
        }
    }

    // A condition message is one line.
    private static string Brief(Exception e)
        => string.Join(' ', e.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
