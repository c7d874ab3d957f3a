using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Laps.Kubernetes.Fake;

// The HTTP edge: routes a request to the store and writes what the real server would.
public sealed partial class FakeKubernetesServer
{
    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value?.TrimEnd('/') ?? "";
        try
        {
            if (Discovery.Document(path, Registry, BaseAddress) is { } document)
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
        catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
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
        else
        {
            try
            {
                result = Store.Patch(type, ns, name, patch, mode);
            }
            catch (ApiException e) when (e.Code == 404 && contentType == "application/apply-patch+yaml")
            {
                result = Store.Create(type, ns, body.AsObject()); // apply creates what is missing
            }
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
}
