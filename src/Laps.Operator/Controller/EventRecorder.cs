using k8s;
using k8s.Models;
using Laps.Operator.Kube;
using Laps.Operator.Model;
using Microsoft.Extensions.Logging;

namespace Laps.Operator.Controller;

/// <summary>Core v1 Events on a pool (kubectl describe ipool shows them). Best effort: a failed event is logged, never thrown.</summary>
public sealed class EventRecorder(KubeApi api, TimeProvider time, ILogger logger, string instance)
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";

    public async Task RecordAsync(InferencePool pool, string type, string reason, string message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var now = time.GetUtcNow().UtcDateTime;
        var ev = new Corev1Event
        {
            ApiVersion = "v1",
            Kind = "Event",
            Metadata = new V1ObjectMeta
            {
                Name = $"{pool.Metadata.Name}.{now.Ticks:x}{Random.Shared.Next(0x10000):x4}",
                NamespaceProperty = pool.Metadata.NamespaceProperty,
            },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = pool.ApiVersion,
                Kind = pool.Kind,
                Name = pool.Metadata.Name,
                NamespaceProperty = pool.Metadata.NamespaceProperty,
                Uid = pool.Metadata.Uid,
                ResourceVersion = pool.Metadata.ResourceVersion,
            },
            Type = type,
            Reason = reason,
            Message = message.Length > 1024 ? message[..1024] : message,
            Source = new V1EventSource { Component = KubeApi.FieldManager },
            ReportingComponent = "laps.dev/operator",
            ReportingInstance = instance,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
        try
        {
            await api.Client.CoreV1.CreateNamespacedEventAsync(ev, pool.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // An event is a courtesy; the reconcile must not fail for it.
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.LogDebug(e, "could not record event {Reason} on {Pool}", reason, pool.Metadata.Name);
            }
        }
    }
}
