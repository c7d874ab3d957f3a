using Microsoft.AspNetCore.Http;

namespace Laps.Kubernetes.Fake;

/// <summary>A resource request path (<c>/apis/g/v/namespaces/ns/plural/name/sub</c>) and its Kubernetes verb.</summary>
internal sealed record Route(ResourceType Type, string? Namespace, string? Name, string? Subresource, string Verb)
{
    public static Route Parse(string path, ResourceRegistry registry, string method, IQueryCollection query)
    {
        var s = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var (group, version, rest) = s switch
        {
            ["api", var v, .. var r] => ("", v, r),
            ["apis", var g, var v, .. var r] => (g, v, r),
            _ => throw NotFound(),
        };
        string? ns = null;
        // /api/v1/namespaces/{ns}/{plural}... is namespaced; /api/v1/namespaces/{name}/status is the namespace itself.
        if (rest is ["namespaces", var n, var next, ..] && !(rest.Length == 3 && next is "status" or "finalize"))
        {
            ns = n;
            rest = rest[2..];
        }
        if (rest.Length is 0 or > 3 || registry.Find(group, version, rest[0]) is not { } type)
        {
            throw NotFound();
        }
        var name = rest.Length > 1 ? rest[1] : null;
        var sub = rest.Length > 2 ? rest[2] : null;
        if ((type.Namespaced && ns is null && name is not null) || (!type.Namespaced && ns is not null)
            || (sub is not null && !(sub == "status" && type.HasStatus) && !(sub == "scale" && type.Scale is not null)))
        {
            throw NotFound();
        }
        var watch = query["watch"] is var w && (w == "true" || w == "1");
        var verb = (method, name) switch
        {
            ("GET", null) => watch ? "watch" : "list",
            ("GET", _) => "get",
            ("POST", null) => "create",
            ("PUT", not null) => "update",
            ("PATCH", not null) => "patch",
            ("DELETE", null) => "deletecollection",
            ("DELETE", _) => "delete",
            _ => throw new ApiException(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
        };
        return new Route(type, ns, name, sub, verb);
    }

    private static ApiException NotFound() => new(404, "NotFound", "the server could not find the requested resource");
}
