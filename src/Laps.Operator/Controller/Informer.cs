using System.Collections.Concurrent;
using System.Net;
using k8s;
using k8s.Models;
using Laps.Operator.Kube;
using Microsoft.Extensions.Logging;

namespace Laps.Operator.Controller;

/// <summary>"namespace/name", the work queue's key for an object.</summary>
public static class ObjectKey
{
    public static string Of(string? ns, string name) => string.IsNullOrEmpty(ns) ? name : $"{ns}/{name}";

    public static string Of(IKubernetesObject<V1ObjectMeta> o) => Of(o?.Metadata.NamespaceProperty, o!.Metadata.Name);

    public static (string Namespace, string Name) Split(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? ("", key) : (key[..slash], key[(slash + 1)..]);
    }
}

/// <summary>What does the cluster hold of one kind, as far as the watch has told us? (Informer, without its type.)</summary>
public interface IInformer
{
    KindInfo Kind { get; }

    Task Synced { get; }

    Task RunAsync(CancellationToken ct);

    IKubernetesObject<V1ObjectMeta>? Find(string ns, string name);

    IReadOnlyCollection<IKubernetesObject<V1ObjectMeta>> All();
}

/// <summary>
/// A cache of one kind that follows the API server: list, remember the list's resourceVersion, watch from it (with
/// bookmarks, which move the resourceVersion on without an object changing). A watch that ends is resumed from the
/// last resourceVersion; one that expired (410 Gone / reason Expired) is replaced by a fresh list, and keys that
/// vanished meanwhile are reported as deletions. Errors back off on the <see cref="TimeProvider"/>; nothing throws
/// out of <see cref="RunAsync"/> but cancellation.
/// </summary>
public sealed class Informer<T>(
    KubeApi api, KindInfo kind, string? ns, string? labelSelector, TimeProvider time, ILogger logger, TimeSpan? watchTimeout = null)
    : IInformer
    where T : IKubernetesObject<V1ObjectMeta>
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, T> _store = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _watchTimeout = watchTimeout ?? TimeSpan.FromMinutes(5);

    /// <summary>Called for every change, on the informer's task: keep it short (enqueue a key).</summary>
    public event Action<WatchEventType, T>? Changed;

    public KindInfo Kind { get; } = kind;

    public string ResourceVersion { get; private set; } = "";

    /// <summary>How many times a list replaced the cache (1 after the first sync).</summary>
    public int Lists { get; private set; }

    public Task Synced => _synced.Task;

    public bool HasSynced => _synced.Task.IsCompleted;

    public T? Get(string ns, string name) => _store.TryGetValue(ObjectKey.Of(ns, name), out var o) ? o : default;

    public IReadOnlyCollection<T> List() => [.. _store.Values];

    IKubernetesObject<V1ObjectMeta>? IInformer.Find(string ns, string name) => Get(ns, name);

    IReadOnlyCollection<IKubernetesObject<V1ObjectMeta>> IInformer.All() => [.. _store.Values.Cast<IKubernetesObject<V1ObjectMeta>>()];

    public async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        // Run again after a stop, it resumes its watch; the server says 410 if that is too old.
        var needList = ResourceVersion.Length == 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (needList)
                {
                    await RelistAsync(ct).ConfigureAwait(false);
                    needList = false;
                }

                if (await WatchAsync(ct).ConfigureAwait(false) == 0)
                {
                    // A watch the server closed at once, with nothing in it: do not spin.
                    await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
                }

                failures = 0;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (IsExpired(e))
            {
                if (logger.IsEnabled(LogLevel.Information))
                {
                    logger.LogInformation("{Kind} watch expired at resourceVersion {ResourceVersion}; relisting", Kind.Kind, ResourceVersion);
                }

                needList = true;
            }
#pragma warning disable CA1031 // An informer outlives any one failure: log, back off, resume.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failures++;
                var delay = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, TimeSpan.FromMilliseconds(200).Ticks << Math.Min(failures, 10)));
                if (logger.IsEnabled(LogLevel.Warning))
                {
                    logger.LogWarning(e, "{Kind} list/watch failed ({Failures} in a row); retrying in {Delay}", Kind.Kind, failures, delay);
                }

                try
                {
                    await Task.Delay(delay, time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RelistAsync(CancellationToken ct)
    {
        var (items, rv) = await api.ListAsync<T>(Kind, ns, labelSelector, ct).ConfigureAwait(false);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var key = ObjectKey.Of(item);
            seen.Add(key);
            var existed = _store.ContainsKey(key);
            _store[key] = item;
            Changed?.Invoke(existed ? WatchEventType.Modified : WatchEventType.Added, item);
        }

        // Deleted while we were not watching: the watch will never say so.
        foreach (var (key, item) in _store.ToArray())
        {
            if (!seen.Contains(key) && _store.TryRemove(key, out _))
            {
                Changed?.Invoke(WatchEventType.Deleted, item);
            }
        }

        ResourceVersion = rv;
        Lists++;
        _synced.TrySetResult();
    }

    // Returns how many events (bookmarks included) the watch delivered.
    private async Task<int> WatchAsync(CancellationToken ct)
    {
        var count = 0;
        await foreach (var (type, obj) in api.WatchAsync<T>(Kind, ns, labelSelector, ResourceVersion, _watchTimeout, ct).ConfigureAwait(false))
        {
            count++;
            switch (type)
            {
                case WatchEventType.Added or WatchEventType.Modified:
                    _store[ObjectKey.Of(obj)] = obj;
                    break;
                case WatchEventType.Deleted:
                    _store.TryRemove(ObjectKey.Of(obj), out _);
                    break;
                case WatchEventType.Bookmark:
                    break;
                default:
                    continue;
            }

            if (obj.Metadata?.ResourceVersion is { Length: > 0 } rv)
            {
                ResourceVersion = rv;
            }

            if (type != WatchEventType.Bookmark)
            {
                Changed?.Invoke(type, obj);
            }
        }

        return count;
    }

    private static bool IsExpired(Exception e)
        => KubeApi.StatusOf(e) == HttpStatusCode.Gone
            || (e is KubernetesException k && (k.Status?.Reason is "Expired" or "Gone"));
}
