using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Laps.Kubernetes.Fake;

/// <summary>One change as a watch sees it; <see cref="Previous"/> lets a filtered watch turn an update into ADDED or
/// DELETED when the object starts or stops matching, as the real server does.</summary>
public sealed record StoredEvent(string Type, ResourceType Resource, JsonObject Item, JsonObject? Previous = null);

/// <summary>How a write treats the body: the main resource ignores status, <c>/status</c> takes only status, and
/// <see cref="Trusted"/> (test-side writers such as "the kubelet") takes everything and skips preconditions.</summary>
public enum WriteMode { Main, Status, Trusted }

/// <summary>What the API server keeps: objects as JSON, one resourceVersion counter (as etcd), a bounded event history
/// for watches, and the garbage collector's and finalizers' deletion rules. All operations run under one lock so
/// the order of watch events is the order of resource versions.</summary>
public sealed class ObjectStore(ResourceRegistry registry, TimeProvider time, int historyLimit)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Group, string Plural, string Namespace, string Name), (ResourceType Type, JsonObject Object)> _objects = [];
    private readonly LinkedList<(long Rv, StoredEvent Event)> _history = new();
    private readonly List<WatchSubscription> _watches = [];
    private readonly List<(ResourceType Type, TaskCompletionSource Opened)> _watchWaiters = [];
    private long _rv = 1;
    private long _historyStart = 1;
    private long _generatedNames;

    /// <summary>Off: deletions leave dependents alone, as in a cluster whose garbage collector is down.</summary>
    public bool CollectGarbage { get; set; } = true;

    public long ResourceVersion { get { lock (_gate) { return _rv; } } }

    public JsonObject Create(ResourceType type, string? ns, JsonObject body, WriteMode mode = WriteMode.Main)
    {
        lock (_gate)
        {
            var obj = body.DeepClone().AsObject();
            var meta = Meta(obj);
            var name = (string?)meta["name"];
            if (string.IsNullOrEmpty(name) && meta["generateName"] is JsonValue prefix)
            {
                name = $"{prefix}{++_generatedNames:x5}";
                meta["name"] = name;
            }
            if (string.IsNullOrEmpty(name))
            {
                throw ApiException.Invalid(type, "", "metadata.name: Required value: name or generateName is required");
            }
            ns = Namespace(type, ns, meta);
            if (mode != WriteMode.Trusted && meta["resourceVersion"] is JsonValue)
            {
                throw new ApiException(500, "InternalError", "resourceVersion should not be set on objects to be created");
            }
            if (_objects.ContainsKey(Key(type, ns, name)))
            {
                throw ApiException.AlreadyExists(type, name);
            }
            obj["apiVersion"] = type.ApiVersion;
            obj["kind"] = type.Kind;
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Now();
            meta.Remove("deletionTimestamp");
            meta.Remove("generation");
            if (type.TracksGeneration)
            {
                meta["generation"] = 1L;
            }
            if (type.HasStatus && mode != WriteMode.Trusted)
            {
                obj.Remove("status");
            }
            var declared = type.Kind == "CustomResourceDefinition" ? Declared(type, obj) : null;
            Commit("ADDED", type, ns, obj, previous: null);
            if (declared is not null)
            {
                registry.Register(declared);
            }
            return obj.DeepClone().AsObject();
        }
    }

    public JsonObject Get(ResourceType type, string? ns, string name)
    {
        lock (_gate)
        {
            return Find(type, ns, name).DeepClone().AsObject();
        }
    }

    public (List<JsonObject> Items, long ResourceVersion) List(ResourceType type, string? ns, Selector labels, Selector fields)
    {
        lock (_gate)
        {
            var items = _objects.Where(e => e.Key.Group == type.Group && e.Key.Plural == type.Plural
                                            && (ns is null || e.Key.Namespace == ns))
                .OrderBy(e => e.Key.Namespace, StringComparer.Ordinal).ThenBy(e => e.Key.Name, StringComparer.Ordinal)
                .Select(e => e.Value.Object)
                .Where(o => labels.MatchesLabels(o) && fields.MatchesFields(o))
                .Select(o => o.DeepClone().AsObject()).ToList();
            return (items, _rv);
        }
    }

    public JsonObject Update(ResourceType type, string? ns, string name, JsonObject body, WriteMode mode = WriteMode.Main)
    {
        lock (_gate)
        {
            var bodyName = (string?)body["metadata"]?["name"];
            if (bodyName is not null && bodyName != name)
            {
                throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
            }
            return Replace(type, Find(type, ns, name), body, mode).DeepClone().AsObject();
        }
    }

    /// <summary>Read-modify-write under the lock; a resourceVersion left in the result by the patch is a precondition.</summary>
    public JsonObject Patch(ResourceType type, string? ns, string name, Func<JsonObject, JsonObject> patch, WriteMode mode)
    {
        lock (_gate)
        {
            var current = Find(type, ns, name);
            var patched = patch(current.DeepClone().AsObject());
            Meta(patched)["name"] = name;
            return Replace(type, current, patched, mode).DeepClone().AsObject();
        }
    }

    /// <summary>Returns the object while finalizers keep it, or null once it is gone.</summary>
    public JsonObject? Delete(ResourceType type, string? ns, string name, string? propagation)
    {
        lock (_gate)
        {
            var obj = Find(type, ns, name);
            return DeleteLocked(type, obj, propagation ?? "Background")?.DeepClone().AsObject();
        }
    }

    public WatchSubscription Watch(ResourceType type, string? ns, string? sinceRv, bool bookmarks)
    {
        lock (_gate)
        {
            var watch = new WatchSubscription(this, type, ns, bookmarks);
            if (string.IsNullOrEmpty(sinceRv) || sinceRv == "0")
            {
                // "Start at most recent": the current state as synthetic ADDED events, then changes.
                foreach (var (_, (t, obj)) in _objects.Where(e => e.Value.Type == type).OrderBy(e => RvOf(e.Value.Object)))
                {
                    watch.Offer(new StoredEvent("ADDED", t, obj.DeepClone().AsObject()));
                }
            }
            else
            {
                if (!long.TryParse(sinceRv, CultureInfo.InvariantCulture, out var since))
                {
                    throw ApiException.BadRequest($"invalid resource version: {sinceRv}");
                }
                if (since < _historyStart)
                {
                    watch.Offer(new StoredEvent("ERROR", type, ApiException.Gone(since, _historyStart + 1).ToStatus()));
                    watch.Close();
                    return watch;
                }
                foreach (var (_, e) in _history.Where(h => h.Rv > since && h.Event.Resource == type))
                {
                    watch.Offer(e);
                }
            }
            _watches.Add(watch);
            foreach (var waiter in _watchWaiters.Where(w => w.Type == type).ToList())
            {
                waiter.Opened.TrySetResult();
                _watchWaiters.Remove(waiter);
            }
            return watch;
        }
    }

    /// <summary>Completes once a watch on the kind is open: a test's cue that an informer has started.</summary>
    public Task WatchOpenedAsync(ResourceType type, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_watches.Any(w => w.Type == type))
            {
                return Task.CompletedTask;
            }
            var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _watchWaiters.Add((type, opened));
            return opened.Task.WaitAsync(cancellationToken);
        }
    }

    public int OpenWatches { get { lock (_gate) { return _watches.Count; } } }

    /// <summary>Drops the event history, as etcd compaction does: watches from any older version get 410 Gone.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _history.Clear();
            _historyStart = _rv;
        }
    }

    public void SendBookmarks()
    {
        lock (_gate)
        {
            foreach (var watch in _watches.Where(w => w.Bookmarks))
            {
                var marker = new JsonObject
                {
                    ["kind"] = watch.Type.Kind,
                    ["apiVersion"] = watch.Type.ApiVersion,
                    ["metadata"] = new JsonObject { ["resourceVersion"] = _rv.ToString(CultureInfo.InvariantCulture) },
                };
                watch.Offer(new StoredEvent("BOOKMARK", watch.Type, marker));
            }
        }
    }

    public void DisconnectWatches()
    {
        lock (_gate)
        {
            foreach (var watch in _watches)
            {
                watch.Close();
            }
            _watches.Clear();
        }
    }

    internal void Unsubscribe(WatchSubscription watch)
    {
        lock (_gate)
        {
            _watches.Remove(watch);
        }
    }

    private JsonObject Replace(ResourceType type, JsonObject old, JsonObject body, WriteMode mode)
    {
        var oldMeta = Meta(old);
        var name = (string)oldMeta["name"]!;
        if (mode != WriteMode.Trusted)
        {
            var rv = (string?)body["metadata"]?["resourceVersion"];
            if (string.IsNullOrEmpty(rv) && !type.AllowsUnconditionalUpdate)
            {
                throw ApiException.Invalid(type, name, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
            }
            if (!string.IsNullOrEmpty(rv) && rv != (string?)oldMeta["resourceVersion"])
            {
                throw ApiException.Conflict(type, name);
            }
        }
        var next = mode == WriteMode.Status ? old.DeepClone().AsObject() : body.DeepClone().AsObject();
        if (mode == WriteMode.Status)
        {
            next["status"] = body["status"]?.DeepClone();
        }
        else if (mode == WriteMode.Main && type.HasStatus)
        {
            next["status"] = old["status"]?.DeepClone();
        }
        if (next["status"] is null)
        {
            next.Remove("status");
        }
        next["apiVersion"] = type.ApiVersion;
        next["kind"] = type.Kind;
        var meta = Meta(next);
        foreach (var field in new[] { "name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                     "deletionGracePeriodSeconds", "generation", "resourceVersion" })
        {
            meta[field] = oldMeta[field]?.DeepClone();
            if (meta[field] is null)
            {
                meta.Remove(field);
            }
        }
        if (oldMeta["deletionTimestamp"] is not null
            && Finalizers(next).Except(Finalizers(old), StringComparer.Ordinal).Any())
        {
            throw ApiException.Invalid(type, name, "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted");
        }
        if (type.TracksGeneration && !JsonNode.DeepEquals(Content(old), Content(next)))
        {
            meta["generation"] = (oldMeta["generation"] is { } g ? long.Parse(g.ToJsonString(), CultureInfo.InvariantCulture) : 0) + 1;
        }
        if (JsonNode.DeepEquals(old, next))
        {
            return old; // a no-op write keeps the resourceVersion and wakes no watcher, as in the real server
        }
        Commit("MODIFIED", type, (string?)meta["namespace"] ?? "", next, old);
        if (meta["deletionTimestamp"] is not null && Finalizers(next).Count == 0)
        {
            Remove(type, next);
        }
        return next;
    }

    private JsonObject? DeleteLocked(ResourceType type, JsonObject obj, string propagation)
    {
        var uid = (string)Meta(obj)["uid"]!;
        if (Meta(obj)["deletionTimestamp"] is not null)
        {
            return obj;
        }
        var finalizers = Finalizers(obj);
        if (propagation == "Orphan" && CollectGarbage)
        {
            foreach (var (depType, dep) in Dependents(uid))
            {
                var copy = dep.DeepClone().AsObject();
                var refs = Meta(copy)["ownerReferences"]!.AsArray();
                foreach (var r in refs.Where(r => (string?)r!["uid"] == uid).ToList())
                {
                    refs.Remove(r);
                }
                Replace(depType, dep, copy, WriteMode.Trusted);
            }
        }
        if (propagation == "Foreground" && CollectGarbage && Dependents(uid).Count > 0)
        {
            finalizers.Add("foregroundDeletion");
        }
        if (finalizers.Count == 0)
        {
            Remove(type, obj);
            return null;
        }
        var next = obj.DeepClone().AsObject();
        Meta(next)["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode)f)]);
        Meta(next)["deletionTimestamp"] = Now();
        Meta(next)["deletionGracePeriodSeconds"] = 0;
        Commit("MODIFIED", type, (string?)Meta(next)["namespace"] ?? "", next, obj);
        if (finalizers.Contains("foregroundDeletion"))
        {
            foreach (var (depType, dep) in Dependents(uid))
            {
                DeleteLocked(depType, dep, "Foreground");
            }
            ReleaseForegroundOwner(uid);
        }
        return _objects.ContainsKey(Key(type, (string?)Meta(next)["namespace"] ?? "", (string)Meta(next)["name"]!)) ? next : null;
    }

    private void Remove(ResourceType type, JsonObject obj)
    {
        var meta = Meta(obj);
        var ns = (string?)meta["namespace"] ?? "";
        _objects.Remove(Key(type, ns, (string)meta["name"]!));
        var gone = obj.DeepClone().AsObject();
        Commit("DELETED", type, ns, gone, obj, store: false);
        if (type.Kind == "CustomResourceDefinition")
        {
            // Deleting a CRD deletes its objects and stops serving the kind.
            var served = ResourceType.FromCrd(obj);
            foreach (var (t, instance) in _objects.Values.Where(v => v.Type == served).ToList())
            {
                Remove(t, instance);
            }
            registry.Unregister(served);
        }
        if (!CollectGarbage)
        {
            return;
        }
        var uid = (string)meta["uid"]!;
        foreach (var (depType, dep) in Dependents(uid))
        {
            var owners = Meta(dep)["ownerReferences"]!.AsArray().Select(r => (string?)r!["uid"]);
            if (!owners.Any(o => o is not null && _objects.Values.Any(v => (string?)Meta(v.Object)["uid"] == o)))
            {
                DeleteLocked(depType, dep, "Background");
            }
        }
        foreach (var owner in (Meta(obj)["ownerReferences"] as JsonArray ?? []).Select(r => (string?)r!["uid"]))
        {
            ReleaseForegroundOwner(owner);
        }
    }

    // A foreground deletion finishes when the owner's last dependent is gone.
    private void ReleaseForegroundOwner(string? uid)
    {
        var owner = _objects.Values.FirstOrDefault(v => (string?)Meta(v.Object)["uid"] == uid);
        if (owner.Object is null || uid is null || Dependents(uid).Count > 0
            || !Finalizers(owner.Object).Contains("foregroundDeletion"))
        {
            return;
        }
        var next = owner.Object.DeepClone().AsObject();
        Meta(next)["finalizers"] = new JsonArray([.. Finalizers(owner.Object).Where(f => f != "foregroundDeletion")
            .Select(f => (JsonNode)f)]);
        Replace(owner.Type, owner.Object, next, WriteMode.Trusted);
    }

    private List<(ResourceType Type, JsonObject Object)> Dependents(string uid) =>
        [.. _objects.Values.Where(v => Meta(v.Object)["ownerReferences"] is JsonArray refs
                                       && refs.Any(r => (string?)r!["uid"] == uid))];

    private void Commit(string eventType, ResourceType type, string ns, JsonObject obj, JsonObject? previous, bool store = true)
    {
        _rv++;
        Meta(obj)["resourceVersion"] = _rv.ToString(CultureInfo.InvariantCulture);
        if (store)
        {
            _objects[Key(type, ns, (string)Meta(obj)["name"]!)] = (type, obj);
        }
        var evt = new StoredEvent(eventType, type, obj.DeepClone().AsObject(), previous?.DeepClone().AsObject());
        _history.AddLast((_rv, evt));
        while (_history.Count > historyLimit)
        {
            _historyStart = _history.First!.Value.Rv;
            _history.RemoveFirst();
        }
        foreach (var watch in _watches.Where(w => w.Type == type))
        {
            watch.Offer(evt);
        }
    }

    private static ResourceType Declared(ResourceType crdType, JsonObject crd)
    {
        try
        {
            return ResourceType.FromCrd(crd);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException)
        {
            throw ApiException.Invalid(crdType, (string?)crd["metadata"]?["name"] ?? "", "spec: group, names.kind, names.plural and versions are required");
        }
    }

    private JsonObject Find(ResourceType type, string? ns, string name) =>
        _objects.TryGetValue(Key(type, ns ?? "", name), out var found) ? found.Object : throw ApiException.NotFound(type, name);

    private static string Namespace(ResourceType type, string? ns, JsonObject meta)
    {
        if (!type.Namespaced)
        {
            meta.Remove("namespace");
            return "";
        }
        var bodyNs = (string?)meta["namespace"];
        if (!string.IsNullOrEmpty(bodyNs) && !string.IsNullOrEmpty(ns) && bodyNs != ns)
        {
            throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        var result = string.IsNullOrEmpty(ns) ? bodyNs : ns;
        if (string.IsNullOrEmpty(result))
        {
            throw ApiException.BadRequest("the server could not find the requested resource: a namespace is required");
        }
        meta["namespace"] = result;
        return result;
    }

    private static (string, string, string, string) Key(ResourceType type, string ns, string name) =>
        (type.Group, type.Plural, type.Namespaced ? ns : "", name);

    internal static JsonObject Meta(JsonObject obj) => obj["metadata"] as JsonObject ?? (JsonObject)(obj["metadata"] = new JsonObject());

    private static List<string> Finalizers(JsonObject obj) =>
        (obj["metadata"]?["finalizers"] as JsonArray ?? []).Select(f => (string)f!).ToList();

    private static long RvOf(JsonObject obj) => long.Parse((string)obj["metadata"]!["resourceVersion"]!, CultureInfo.InvariantCulture);

    // What generation counts: everything except metadata and status.
    private static JsonObject Content(JsonObject obj)
    {
        var copy = obj.DeepClone().AsObject();
        copy.Remove("metadata");
        copy.Remove("status");
        return copy;
    }

    private string Now() => time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>One open watch: an ordered queue of events for one kind, filtered by the HTTP side.</summary>
public sealed class WatchSubscription(ObjectStore store, ResourceType type, string? ns, bool bookmarks) : IDisposable
{
    private readonly Channel<StoredEvent> _events = Channel.CreateUnbounded<StoredEvent>(new() { SingleReader = true });

    public ResourceType Type => type;
    public bool Bookmarks => bookmarks;
    public ChannelReader<StoredEvent> Events => _events.Reader;

    internal void Offer(StoredEvent e)
    {
        if (e.Type is "ERROR" or "BOOKMARK" || ns is null || (string?)e.Item["metadata"]?["namespace"] == ns)
        {
            _events.Writer.TryWrite(e);
        }
    }

    internal void Close() => _events.Writer.TryComplete();

    public void Dispose()
    {
        Close();
        store.Unsubscribe(this);
    }
}
