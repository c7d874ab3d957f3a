using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Laps.Kubernetes.Fake;

public sealed class FakeKubernetesOptions
{
    /// <summary>Drives creationTimestamp, deletionTimestamp and watch timeoutSeconds.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>How many events the server keeps for watches that resume from a resourceVersion.</summary>
    public int HistoryLimit { get; init; } = 10_000;

    /// <summary>When set, bookmarks go out on this period of <see cref="Time"/> (the real server: about a minute).</summary>
    public TimeSpan? BookmarkInterval { get; init; }
}

/// <summary>One HTTP request as the server understood it; <see cref="Verb"/> is the Kubernetes verb.</summary>
public sealed record RecordedRequest(
    string Method, string Path, string Query, string Verb, string? Resource, string? Namespace, string? Name, string? Subresource)
{
    public bool IsWrite => Verb is "create" or "update" or "patch" or "delete" or "deletecollection";
}

/// <summary>An in-process Kubernetes API server on loopback for tests: the real KubernetesClient and kubectl talk to it
/// over HTTP. See README.md for what it emulates.</summary>
public sealed partial class FakeKubernetesServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FakeKubernetesOptions _options;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly List<Fault> _faults = [];
    private readonly ITimer? _bookmarks;

    private FakeKubernetesServer(WebApplication app, FakeKubernetesOptions options)
    {
        _app = app;
        _options = options;
        Store = new ObjectStore(Registry, options.Time, options.HistoryLimit);
        if (options.BookmarkInterval is { } every)
        {
            _bookmarks = options.Time.CreateTimer(_ => Store.SendBookmarks(), null, every, every);
        }
        app.Run(HandleAsync);
    }

    public ResourceRegistry Registry { get; } = new();
    public ObjectStore Store { get; }
    public Uri BaseAddress { get; private set; } = null!;
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public static async Task<FakeKubernetesServer> StartAsync(FakeKubernetesOptions? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var server = new FakeKubernetesServer(builder.Build(), options ?? new());
        await server._app.StartAsync().ConfigureAwait(false);
        server.BaseAddress = new Uri(server._app.Urls.First());
        return server;
    }

    public KubernetesClientConfiguration ClientConfiguration() => new() { Host = BaseAddress.ToString().TrimEnd('/') };

    public global::k8s.Kubernetes CreateClient() => new(ClientConfiguration());

    /// <summary>Writes a kubeconfig (context <c>fake</c>) for kubectl or a process started with <c>--kubeconfig</c>.</summary>
    public string WriteKubeconfig(string path, string defaultNamespace = "default")
    {
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {BaseAddress.ToString().TrimEnd('/')}
            users:
            - name: fake
              user: {"{}"}
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake
                namespace: {defaultNamespace}
            current-context: fake

            """);
        return path;
    }

    public void ClearRequests() => _requests.Clear();

    /// <summary>The next <paramref name="times"/> requests with this verb (<c>*</c> for any) on this resource (plural,
    /// <c>plural.group</c> or <c>plural/subresource</c>) and optional name fail with <paramref name="statusCode"/>.</summary>
    public void InjectFault(string verb, string resource, int statusCode, string? name = null, TimeSpan? retryAfter = null, int times = 1)
    {
        lock (_faults)
        {
            _faults.Add(new Fault(verb, resource, name, statusCode, retryAfter) { Remaining = times });
        }
    }

    public void Compact() => Store.Compact();
    public void SendBookmarks() => Store.SendBookmarks();
    public void DisconnectWatches() => Store.DisconnectWatches();
    public Task WatchOpenedAsync(string resource, CancellationToken cancellationToken = default) =>
        Store.WatchOpenedAsync(Registry.Find(resource), cancellationToken);

    /// <summary>Creates the ServiceMonitor CRD, which registers the kind, as installing prometheus-operator would.</summary>
    public void InstallServiceMonitorCrd()
    {
        var sm = ResourceRegistry.ServiceMonitor;
        Seed(new JsonObject
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1",
            ["kind"] = "CustomResourceDefinition",
            ["metadata"] = new JsonObject { ["name"] = sm.QualifiedPlural },
            ["spec"] = new JsonObject
            {
                ["group"] = sm.Group,
                ["scope"] = "Namespaced",
                ["names"] = new JsonObject { ["kind"] = sm.Kind, ["plural"] = sm.Plural, ["shortNames"] = new JsonArray("smon") },
                ["versions"] = new JsonArray(new JsonObject { ["name"] = sm.Version, ["served"] = true, ["storage"] = true }),
            },
        });
    }

    // Test-side writers act as other components (an admin, the kubelet, a controller): they write everything,
    // status included, without preconditions, and watches see their changes.
    public JsonObject Seed(JsonObject obj) =>
        Store.Create(TypeOf(obj), (string?)obj["metadata"]?["namespace"], obj, WriteMode.Trusted);

    public T Seed<T>(T obj) where T : IKubernetesObject<V1ObjectMeta> =>
        FromJson<T>(Store.Create(TypeOf<T>(), obj.Metadata?.NamespaceProperty, ToJson(obj), WriteMode.Trusted));

    public T Get<T>(string? ns, string name) where T : IKubernetesObject<V1ObjectMeta> =>
        FromJson<T>(Store.Get(TypeOf<T>(), ns, name));

    public T? TryGet<T>(string? ns, string name) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            return Get<T>(ns, name);
        }
        catch (ApiException e) when (e.Code == 404)
        {
            return null;
        }
    }

    public JsonObject Get(string resource, string? ns, string name) => Store.Get(Registry.Find(resource), ns, name);

    public List<T> List<T>(string? ns = null) where T : IKubernetesObject<V1ObjectMeta> =>
        [.. Store.List(TypeOf<T>(), ns, Selector.Everything, Selector.Everything).Items.Select(FromJson<T>)];

    /// <summary>Read, change, write back as another writer, e.g. the kubelet setting a Deployment's readyReplicas.</summary>
    public T Modify<T>(string? ns, string name, Action<T> change) where T : IKubernetesObject<V1ObjectMeta>
    {
        var type = TypeOf<T>();
        return FromJson<T>(Store.Patch(type, ns, name, current =>
        {
            var typed = FromJson<T>(current);
            change(typed);
            return ToJson(typed);
        }, WriteMode.Trusted));
    }

    public JsonObject Modify(string resource, string? ns, string name, Action<JsonObject> change) =>
        Store.Patch(Registry.Find(resource), ns, name, current =>
        {
            change(current);
            return current;
        }, WriteMode.Trusted);

    public void Delete<T>(string? ns, string name, string? propagation = null) where T : IKubernetesObject<V1ObjectMeta> =>
        Store.Delete(TypeOf<T>(), ns, name, propagation);

    public ResourceType TypeOf<T>()
    {
        var entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{typeof(T).Name} has no [KubernetesEntity]");
        return Registry.Find(entity.Group ?? "", entity.ApiVersion, entity.PluralName)
            ?? throw new ArgumentException($"{entity.PluralName} is not registered");
    }

    private ResourceType TypeOf(JsonObject obj) => Registry.FindKind((string)obj["apiVersion"]!, (string)obj["kind"]!);

    public static JsonObject ToJson(object obj) => JsonNode.Parse(KubernetesJson.Serialize(obj))!.AsObject();

    public static T FromJson<T>(JsonObject obj) => KubernetesJson.Deserialize<T>(obj.ToJsonString());

    public async ValueTask DisposeAsync()
    {
        _bookmarks?.Dispose();
        Store.DisconnectWatches();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed record Fault(string Verb, string Resource, string? Name, int StatusCode, TimeSpan? RetryAfter)
    {
        public int Remaining { get; set; }
    }
}
