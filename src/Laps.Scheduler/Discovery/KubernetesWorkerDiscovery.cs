using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Laps.Scheduler.Discovery;

/// <summary>
/// Workers from Kubernetes EndpointSlices matching a label selector (the workers' Service:
/// <c>kubernetes.io/service-name=&lt;pool&gt;-workers</c>): list, then watch from the list's resourceVersion with
/// bookmarks; a watch that ends is resumed from the last version seen, one that expires (410) or fails relists after
/// a backoff. Each change of the ready addresses is reported whole.
/// </summary>
public sealed partial class KubernetesWorkerDiscovery(
    IKubernetes client,
    DiscoveryOptions options,
    TimeProvider time,
    ILogger<KubernetesWorkerDiscovery> logger) : IWorkerDiscovery
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>Seconds the server keeps one watch open before it ends it and we resume.</summary>
    public int WatchTimeoutSeconds { get; init; } = 300;

    public async Task RunAsync(Action<IReadOnlyCollection<string>> onChange, CancellationToken cancellationToken)
    {
        var slices = new Dictionary<string, V1EndpointSlice>(StringComparer.Ordinal);
        SortedSet<string>? reported = null;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var list = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync(
                    options.Namespace, labelSelector: options.Selector, cancellationToken: cancellationToken).ConfigureAwait(false);
                slices.Clear();
                foreach (var slice in list.Items)
                {
                    slices[slice.Metadata.Name] = slice;
                }

                Report();
                var version = list.Metadata.ResourceVersion;
                failures = 0;
                while (version is not null)
                {
                    version = await WatchAsync(version).ConfigureAwait(false);
                }

                LogRelisting(options.Namespace!, options.Selector!);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpOperationException or HttpRequestException or IOException or KubernetesException or System.Text.Json.JsonException)
            {
                failures++;
                LogWatchFailed(options.Namespace!, options.Selector!, failures, e.Message);
                var wait = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Min(failures - 1, 10)));
                await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            }
        }

        // One watch: apply its events; the version to resume from when it ends, or null to relist (expired or failed).
        async Task<string?> WatchAsync(string version)
        {
            // The client reports a broken stream or an ERROR event (410 Expired) to onError and just ends the stream:
            // rethrown below, so the loop relists after a backoff instead of resuming from a version that is gone.
            var errors = new List<Exception>();
            var events = client.DiscoveryV1.WatchListNamespacedEndpointSliceAsync(
                options.Namespace, allowWatchBookmarks: true, labelSelector: options.Selector, resourceVersion: version,
                timeoutSeconds: WatchTimeoutSeconds, onError: errors.Add, cancellationToken: cancellationToken);
            await foreach (var (type, slice) in events.ConfigureAwait(false))
            {
                switch (type)
                {
                    case WatchEventType.Added or WatchEventType.Modified:
                        slices[slice.Metadata.Name] = slice;
                        break;
                    case WatchEventType.Deleted:
                        slices.Remove(slice.Metadata.Name);
                        break;
                    case WatchEventType.Bookmark:
                        break;
                    default:
                        return null; // ERROR, e.g. 410 Gone: the version is too old to resume from
                }

                version = slice.Metadata?.ResourceVersion ?? version;
                Report();
            }

            if (errors.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors[0]);
            }

            return version;
        }

        void Report()
        {
            var addresses = EndpointSliceAddresses.From(slices.Values, options.PortName);
            if (reported is null || !reported.SetEquals(addresses))
            {
                reported = addresses;
                LogWorkers(addresses.Count, addresses);
                onChange(addresses);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "discovered {Count} ready workers: {Addresses}")]
    private partial void LogWorkers(int count, IEnumerable<string> addresses);

    [LoggerMessage(Level = LogLevel.Information, Message = "EndpointSlice watch in {Namespace} ({Selector}) expired; relisting")]
    private partial void LogRelisting(string @namespace, string selector);

    [LoggerMessage(Level = LogLevel.Warning, Message = "EndpointSlice list/watch in {Namespace} ({Selector}) failed (attempt {Attempt}): {Error}")]
    private partial void LogWatchFailed(string @namespace, string selector, int attempt, string error);
}
