using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Laps.Operator.Kube;

/// <summary>
/// One typed door to the API for every kind the operator touches, over the client's custom-object operations (which
/// take group/version/plural). Core-group paths (<c>/apis//v1</c>) are mapped to <c>/api/v1</c> by
/// <see cref="CoreGroupHandler"/>, so create the client with <see cref="CreateClient"/>.
/// </summary>
public sealed class KubeApi(IKubernetes client)
{
    public IKubernetes Client { get; } = client;

    public static Kubernetes CreateClient(KubernetesClientConfiguration config) => new(config, new CoreGroupHandler());

    public async Task<(IReadOnlyList<T> Items, string ResourceVersion)> ListAsync<T>(KindInfo kind, string? ns, string? labelSelector, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kind);
        using var response = string.IsNullOrEmpty(ns)
            ? await Client.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync<JsonElement>(
                kind.Group, kind.Version, kind.Plural, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)
            : await Client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<JsonElement>(
                kind.Group, kind.Version, ns, kind.Plural, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false);
        var body = response.Body;
        var items = body.TryGetProperty("items", out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Select(e => KubernetesJson.Deserialize<T>(e)).ToList()
            : [];
        var rv = body.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("resourceVersion", out var v) ? v.GetString() ?? "" : "";
        return (items, rv);
    }

    /// <summary>
    /// Events after <paramref name="resourceVersion"/>, with bookmarks; ends when the server closes the watch. An ERROR
    /// event (e.g. 410 Expired) or a broken stream, which the client reports to a callback and then just ends the
    /// stream on, is thrown once the stream ends (a <see cref="KubernetesException"/> carrying the status).
    /// </summary>
    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync<T>(
        KindInfo kind, string? ns, string? labelSelector, string resourceVersion, TimeSpan timeout,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var seconds = (int)timeout.TotalSeconds;
        var errors = new List<Exception>();
        var events = string.IsNullOrEmpty(ns)
            ? Client.CustomObjects.WatchListCustomObjectForAllNamespacesAsync(
                kind.Group, kind.Version, kind.Plural, allowWatchBookmarks: true, labelSelector: labelSelector,
                resourceVersion: resourceVersion, timeoutSeconds: seconds, onError: errors.Add, cancellationToken: ct)
            : Client.CustomObjects.WatchListNamespacedCustomObjectAsync(
                kind.Group, kind.Version, ns, kind.Plural, allowWatchBookmarks: true, labelSelector: labelSelector,
                resourceVersion: resourceVersion, timeoutSeconds: seconds, onError: errors.Add, cancellationToken: ct);
        await foreach (var (type, obj) in events.ConfigureAwait(false))
        {
            var element = obj is JsonElement e ? e : JsonSerializer.SerializeToElement(obj);
            if (type == WatchEventType.Error)
            {
                throw new KubernetesException(KubernetesJson.Deserialize<V1Status>(element));
            }

            yield return (type, KubernetesJson.Deserialize<T>(element));
        }

        if (errors.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors[0]);
        }
    }

    /// <summary>The object, or default when it does not exist.</summary>
    public async Task<T?> GetAsync<T>(KindInfo kind, string ns, string name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kind);
        try
        {
            using var response = await Client.CustomObjects.GetNamespacedCustomObjectWithHttpMessagesAsync<T>(
                kind.Group, kind.Version, ns, kind.Plural, name, cancellationToken: ct).ConfigureAwait(false);
            return response.Body;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return default;
        }
    }

    /// <summary>POST; 409 AlreadyExists if the name is taken.</summary>
    public async Task CreateAsync(KindInfo kind, IKubernetesObject<V1ObjectMeta> obj, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        using var _ = await Client.CustomObjects.CreateNamespacedCustomObjectWithHttpMessagesAsync<JsonElement>(
            obj, kind.Group, kind.Version, obj.Metadata.NamespaceProperty, kind.Plural, fieldManager: FieldManager, cancellationToken: ct).ConfigureAwait(false);
    }

    /// <summary>PUT with the object's resourceVersion: 409 Conflict if someone wrote in between.</summary>
    public async Task ReplaceAsync(KindInfo kind, IKubernetesObject<V1ObjectMeta> obj, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        using var _ = await Client.CustomObjects.ReplaceNamespacedCustomObjectWithHttpMessagesAsync<JsonElement>(
            obj, kind.Group, kind.Version, obj.Metadata.NamespaceProperty, kind.Plural, obj.Metadata.Name, fieldManager: FieldManager, cancellationToken: ct).ConfigureAwait(false);
    }

    public async Task<T> ReplaceStatusAsync<T>(KindInfo kind, T obj, CancellationToken ct)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        using var response = await Client.CustomObjects.ReplaceNamespacedCustomObjectStatusWithHttpMessagesAsync<T>(
            obj, kind.Group, kind.Version, obj.Metadata.NamespaceProperty, kind.Plural, obj.Metadata.Name, fieldManager: FieldManager, cancellationToken: ct).ConfigureAwait(false);
        return response.Body;
    }

    /// <summary>Deletes if present; the object's dependents go in the background (the garbage collector).</summary>
    public async Task DeleteAsync(KindInfo kind, string ns, string name, string? uid, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kind);
        try
        {
            // The uid precondition keeps us from deleting a same-named object that replaced the one we saw.
            var options = new V1DeleteOptions { PropagationPolicy = "Background", Preconditions = uid is null ? null : new V1Preconditions { Uid = uid } };
            using var _ = await Client.CustomObjects.DeleteNamespacedCustomObjectWithHttpMessagesAsync(
                kind.Group, kind.Version, ns, kind.Plural, name, options, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    public const string FieldManager = "laps-operator";

    public static HttpStatusCode? StatusOf(Exception e) => e switch
    {
        HttpOperationException h => h.Response?.StatusCode,
        KubernetesException k when k.Status?.Code is { } code => (HttpStatusCode)code,
        _ => null,
    };

    /// <summary>The custom-object operations build <c>/apis/{group}/{version}</c>; the core group lives at <c>/api/{version}</c>.</summary>
    public sealed class CoreGroupHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(request);
            if (request.RequestUri is { } uri && uri.AbsolutePath.Contains("/apis//", StringComparison.Ordinal))
            {
                request.RequestUri = new UriBuilder(uri) { Path = uri.AbsolutePath.Replace("/apis//", "/api/", StringComparison.Ordinal) }.Uri;
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
