using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
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
}

/// <summary>One HTTP request as the server understood it; <see cref="Verb"/> is the Kubernetes verb.</summary>
public sealed record RecordedRequest(
    string Method, string Path, string Query, string Verb, string? Resource, string? Namespace, string? Name, string? Subresource)
{
    public bool IsWrite => Verb is "create" or "update" or "patch" or "delete" or "deletecollection";
}

/// <summary>An in-process Kubernetes API server on loopback for tests: the real KubernetesClient and kubectl talk to it
/// over HTTP. See README.md for what it emulates.</summary>
public sealed class FakeKubernetesServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FakeKubernetesOptions _options;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly List<Fault> _faults = [];

    private FakeKubernetesServer(WebApplication app, FakeKubernetesOptions options)
    {
        _app = app;
        _options = options;
        Store = new ObjectStore(Registry, options.Time, options.HistoryLimit);
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
        Store.DisconnectWatches();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value?.TrimEnd('/') ?? "";
        try
        {
            if (Discovery(path) is { } document)
            {
                Record(request, path, "get", null);
                await WriteAsync(context, 200, document).ConfigureAwait(false);
                return;
            }
            var route = Route.Parse(path, Registry, request.Method, request.Query);
            Record(request, path, route.Verb, route);
            ThrowInjectedFault(context, route);
            await DispatchAsync(context, route).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            await WriteAsync(context, e.Code, e.ToStatus()).ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException e)
        {
            await WriteAsync(context, 400, ApiException.BadRequest($"the body of the request was in an unknown format: {e.Message}").ToStatus()).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or NullReferenceException or ArgumentException)
        {
            // A bug in the fake or a body it cannot read: say so in the response rather than an empty 500.
            await WriteAsync(context, 500, new ApiException(500, "InternalError", e.ToString()).ToStatus()).ConfigureAwait(false);
        }
    }

    private async Task DispatchAsync(HttpContext context, Route route)
    {
        var (type, ns, name, sub) = (route.Type, route.Namespace, route.Name!, route.Subresource);
        var query = context.Request.Query;
        var mode = sub == "status" ? WriteMode.Status : WriteMode.Main;
        switch (route.Verb)
        {
            case "watch":
                await WatchAsync(context, route).ConfigureAwait(false);
                return;
            case "list":
                var (items, rv) = Store.List(type, ns, Selector.ParseLabels(query["labelSelector"]), Selector.ParseFields(query["fieldSelector"]));
                await WriteAsync(context, 200, Tables.WantsTable(context.Request)
                    ? Tables.Build(type, items, rv, _options.Time.GetUtcNow(), query["includeObject"])
                    : new JsonObject
                    {
                        ["kind"] = type.Kind + "List",
                        ["apiVersion"] = type.ApiVersion,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) },
                        ["items"] = new JsonArray([.. items]),
                    }).ConfigureAwait(false);
                return;
            case "get":
                var found = Store.Get(type, ns, name);
                await WriteAsync(context, 200, sub == "scale" ? Scale.From(type, found)
                    : Tables.WantsTable(context.Request) ? Tables.Build(type, [found], Store.ResourceVersion, _options.Time.GetUtcNow(), query["includeObject"]) : found).ConfigureAwait(false);
                return;
            case "create":
                await WriteAsync(context, 201, Store.Create(type, ns, await BodyAsync(context).ConfigureAwait(false))).ConfigureAwait(false);
                return;
            case "update" when sub == "scale":
                var scale = await BodyAsync(context).ConfigureAwait(false);
                await WriteAsync(context, 200, Scale.From(type, Store.Patch(type, ns, name, o => Scale.Apply(type, o, scale), WriteMode.Main))).ConfigureAwait(false);
                return;
            case "update":
                await WriteAsync(context, 200, Store.Update(type, ns, name, await BodyAsync(context).ConfigureAwait(false), mode)).ConfigureAwait(false);
                return;
            case "patch":
                await PatchAsync(context, route, mode).ConfigureAwait(false);
                return;
            case "delete":
                var options = context.Request.ContentLength > 0 ? await BodyAsync(context).ConfigureAwait(false) : [];
                var propagation = (string?)query["propagationPolicy"] ?? (string?)options["propagationPolicy"]
                    ?? ((bool?)options["orphanDependents"] == true || query["orphanDependents"] == "true" ? "Orphan" : null);
                var before = Store.Get(type, ns, name);
                var kept = Store.Delete(type, ns, name, propagation);
                await WriteAsync(context, 200, kept ?? (type.ReturnsDeletedObject ? before : Success(type, before))).ConfigureAwait(false);
                return;
            case "deletecollection":
                var (doomed, _) = Store.List(type, ns, Selector.ParseLabels(query["labelSelector"]), Selector.ParseFields(query["fieldSelector"]));
                foreach (var item in doomed)
                {
                    Store.Delete(type, (string?)item["metadata"]!["namespace"], (string)item["metadata"]!["name"]!, null);
                }
                await WriteAsync(context, 200, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success" }).ConfigureAwait(false);
                return;
            default:
                throw new ApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
        }
    }

    private async Task PatchAsync(HttpContext context, Route route, WriteMode mode)
    {
        var contentType = context.Request.ContentType?.Split(';')[0].Trim();
        var body = await JsonNode.ParseAsync(context.Request.Body).ConfigureAwait(false)
            ?? throw ApiException.BadRequest("empty patch");
        Func<JsonObject, JsonObject> patch = contentType switch
        {
            "application/json-patch+json" => o => Patches.Apply(o, body.AsArray()).AsObject(),
            // Strategic merge and server-side apply are approximated by a merge patch (lists are replaced whole).
            "application/merge-patch+json" or "application/strategic-merge-patch+json" or "application/apply-patch+yaml"
                => o => Patches.Merge(o, body)!.AsObject(),
            _ => throw new ApiException(415, "UnsupportedMediaType", $"the server does not support the media type {contentType}"),
        };
        var (type, ns, name) = (route.Type, route.Namespace, route.Name!);
        JsonObject result;
        if (route.Subresource == "scale")
        {
            result = Scale.From(type, Store.Patch(type, ns, name, o => Scale.Apply(type, o, patch(Scale.From(type, o))), WriteMode.Main));
        }
        else if (contentType == "application/apply-patch+yaml" && Store.List(type, ns, Selector.Everything, Selector.ParseFields($"metadata.name={name}")).Items.Count == 0)
        {
            result = Store.Create(type, ns, body.AsObject());
        }
        else
        {
            result = Store.Patch(type, ns, name, patch, mode);
        }
        await WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    private async Task WatchAsync(HttpContext context, Route route)
    {
        var query = context.Request.Query;
        var labels = Selector.ParseLabels(query["labelSelector"]);
        var fields = Selector.ParseFields(query["fieldSelector"]);
        // The timer starts before the watch is visible to tests (WatchOpenedAsync), so a fake clock advanced after it counts.
        using var timeout = int.TryParse(query["timeoutSeconds"], CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds), _options.Time)
            : new CancellationTokenSource();
        using var watch = Store.Watch(route.Type, route.Namespace, query["resourceVersion"], query["allowWatchBookmarks"] == "true");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, context.RequestAborted);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(linked.Token).ConfigureAwait(false);
        try
        {
            await foreach (var e in watch.Events.ReadAllAsync(linked.Token).ConfigureAwait(false))
            {
                if (WatchType(e, labels, fields) is not { } type)
                {
                    continue;
                }
                var line = new JsonObject { ["type"] = type, ["object"] = e.Item.DeepClone() }.ToJsonString() + "\n";
                await context.Response.WriteAsync(line, linked.Token).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // timeoutSeconds elapsed or the client went away: the stream ends, as on the real server
        }
    }

    // A filtered watch sees an object enter or leave its selection as ADDED or DELETED.
    private static string? WatchType(StoredEvent e, Selector labels, Selector fields)
    {
        if (e.Type is "ERROR" or "BOOKMARK")
        {
            return e.Type;
        }
        bool Matches(JsonObject? o) => o is not null && labels.MatchesLabels(o) && fields.MatchesFields(o);
        var now = Matches(e.Item);
        if (e.Type != "MODIFIED")
        {
            return now ? e.Type : null;
        }
        var before = Matches(e.Previous);
        return (before, now) switch
        {
            (true, true) => "MODIFIED",
            (false, true) => "ADDED",
            (true, false) => "DELETED",
            _ => null,
        };
    }

    private void ThrowInjectedFault(HttpContext context, Route route)
    {
        Fault? fault;
        lock (_faults)
        {
            var resource = route.Subresource is null ? route.Type.Plural : $"{route.Type.Plural}/{route.Subresource}";
            fault = _faults.FirstOrDefault(f => (f.Verb == "*" || f.Verb == route.Verb)
                && (f.Resource == resource || f.Resource == route.Type.QualifiedPlural || (f.Resource == route.Type.Plural && route.Subresource is null))
                && (f.Name is null || f.Name == route.Name));
            if (fault is null)
            {
                return;
            }
            if (--fault.Remaining == 0)
            {
                _faults.Remove(fault);
            }
        }
        if (fault.RetryAfter is { } retry)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        var reason = fault.StatusCode switch
        {
            409 => "Conflict",
            404 => "NotFound",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        throw new ApiException(fault.StatusCode, reason, $"injected fault: {fault.StatusCode} {reason}");
    }

    private void Record(HttpRequest request, string path, string verb, Route? route) =>
        _requests.Enqueue(new RecordedRequest(request.Method, path, request.QueryString.Value ?? "", verb,
            route?.Type.Plural, route?.Namespace, route?.Name, route?.Subresource));

    private static JsonObject Success(ResourceType type, JsonObject deleted) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Success",
        ["details"] = new JsonObject
        {
            ["name"] = deleted["metadata"]!["name"]!.DeepClone(),
            ["group"] = type.Group,
            ["kind"] = type.Plural,
            ["uid"] = deleted["metadata"]!["uid"]!.DeepClone(),
        },
    };

    private static async Task<JsonObject> BodyAsync(HttpContext context) =>
        (await JsonNode.ParseAsync(context.Request.Body).ConfigureAwait(false))?.AsObject()
        ?? throw ApiException.BadRequest("empty body");

    private static async Task WriteAsync(HttpContext context, int code, JsonNode body)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8).ConfigureAwait(false);
    }

    private JsonNode? Discovery(string path) => Discovery(path, Registry, BaseAddress);

    private static JsonNode? Discovery(string path, ResourceRegistry registry, Uri baseAddress)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var types = registry.All;
        JsonObject GroupVersion(string group, string version) => new()
        {
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["version"] = version,
        };
        JsonObject Group(IGrouping<string, ResourceType> g) => new()
        {
            ["name"] = g.Key,
            ["versions"] = new JsonArray([.. g.Select(t => t.Version).Distinct().Select(v => GroupVersion(g.Key, v))]),
            ["preferredVersion"] = GroupVersion(g.Key, g.First().Version),
        };
        return segments switch
        {
            ["version"] => new JsonObject
            {
                ["major"] = "1", ["minor"] = "35", ["gitVersion"] = "v1.35.0-laps-fake", ["gitCommit"] = "fake",
                ["gitTreeState"] = "clean", ["buildDate"] = "2026-01-01T00:00:00Z", ["goVersion"] = "go1.25",
                ["compiler"] = "gc", ["platform"] = "linux/amd64",
            },
            ["healthz" or "readyz" or "livez"] => JsonValue.Create("ok"),
            ["api"] => new JsonObject
            {
                ["kind"] = "APIVersions",
                ["versions"] = new JsonArray("v1"),
                ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject
                {
                    ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = baseAddress.Authority,
                }),
            },
            ["apis"] => new JsonObject
            {
                ["kind"] = "APIGroupList",
                ["apiVersion"] = "v1",
                ["groups"] = new JsonArray([.. types.Where(t => t.Group.Length > 0).GroupBy(t => t.Group).Select(Group)]),
            },
            ["apis", var group] when types.Any(t => t.Group == group) =>
                Group(types.Where(t => t.Group == group).GroupBy(t => t.Group).Single()).Also(o => o["kind"] = "APIGroup", o => o["apiVersion"] = "v1"),
            ["api", var version] => ResourceList(types, "", version),
            ["apis", var group, var version] when types.Any(t => t.Group == group && t.Version == version) =>
                ResourceList(types, group, version),
            _ => null,
        };
    }

    private static JsonObject ResourceList(IReadOnlyList<ResourceType> types, string group, string version)
    {
        var resources = new JsonArray();
        foreach (var t in types.Where(t => t.Group == group && t.Version == version))
        {
            resources.Add(new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Kind.ToLowerInvariant(),
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
                ["shortNames"] = new JsonArray([.. t.ShortNames.Select(s => (JsonNode)s)]),
            });
            if (t.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = $"{t.Plural}/status", ["singularName"] = "", ["namespaced"] = t.Namespaced,
                    ["kind"] = t.Kind, ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
            if (t.Scale is not null)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = $"{t.Plural}/scale", ["singularName"] = "", ["namespaced"] = t.Namespaced,
                    ["group"] = "autoscaling", ["version"] = "v1", ["kind"] = "Scale",
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    private sealed record Fault(string Verb, string Resource, string? Name, int StatusCode, TimeSpan? RetryAfter)
    {
        public int Remaining { get; set; }
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject Also(this JsonObject obj, params Action<JsonObject>[] changes)
    {
        foreach (var change in changes)
        {
            change(obj);
        }
        return obj;
    }
}
