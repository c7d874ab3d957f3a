using System.Text.Json.Nodes;

namespace Laps.Kubernetes.Fake;

/// <summary>Does an object match a <c>labelSelector</c> or <c>fieldSelector</c> query string?</summary>
public sealed class Selector
{
    private readonly List<Func<Func<string, string?>, bool>> _requirements = [];

    public static Selector Everything { get; } = new();

    /// <summary>Label selector grammar: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a)</c>,
    /// <c>k</c>, <c>!k</c>, joined by commas.</summary>
    public static Selector ParseLabels(string? text)
    {
        var selector = new Selector();
        foreach (var part in SplitTopLevel(text))
        {
            selector._requirements.Add(ParseRequirement(part));
        }
        return selector;
    }

    /// <summary>Field selectors: the real server supports only metadata.name and metadata.namespace for most kinds.</summary>
    public static Selector ParseFields(string? text)
    {
        var selector = new Selector();
        foreach (var part in SplitTopLevel(text))
        {
            var requirement = ParseRequirement(part);
            var field = part.Split('=', '!')[0].Trim();
            if (field is not ("metadata.name" or "metadata.namespace"))
            {
                throw ApiException.BadRequest($"field label not supported: {field}");
            }
            selector._requirements.Add(requirement);
        }
        return selector;
    }

    public bool MatchesLabels(JsonObject obj)
    {
        var labels = obj["metadata"]?["labels"] as JsonObject;
        return _requirements.All(r => r(key => (string?)labels?[key]));
    }

    public bool MatchesFields(JsonObject obj) =>
        _requirements.All(r => r(field => field switch
        {
            "metadata.name" => (string?)obj["metadata"]?["name"] ?? "",
            "metadata.namespace" => (string?)obj["metadata"]?["namespace"] ?? "",
            _ => null,
        }));

    private static Func<Func<string, string?>, bool> ParseRequirement(string part)
    {
        foreach (var (op, negate) in new[] { (" notin ", true), (" in ", false) })
        {
            var at = part.IndexOf(op, StringComparison.Ordinal);
            if (at > 0)
            {
                var key = part[..at].Trim();
                var set = part[(at + op.Length)..].Trim();
                if (!set.StartsWith('(') || !set.EndsWith(')'))
                {
                    throw ApiException.BadRequest($"unable to parse requirement: {part}");
                }
                var values = set[1..^1].Split(',').Select(v => v.Trim()).ToHashSet(StringComparer.Ordinal);
                return negate
                    ? get => get(key) is not { } v || !values.Contains(v)
                    : get => get(key) is { } v && values.Contains(v);
            }
        }
        if (part.Contains("!=", StringComparison.Ordinal))
        {
            var (key, value) = Split(part, "!=");
            return get => get(key) != value;
        }
        if (part.Contains('=', StringComparison.Ordinal))
        {
            var (key, value) = Split(part, part.Contains("==", StringComparison.Ordinal) ? "==" : "=");
            return get => get(key) == value;
        }
        if (part.StartsWith('!'))
        {
            var key = part[1..].Trim();
            return get => get(key) is null;
        }
        var existing = part.Trim();
        if (existing.Any(c => c is ' ' or '(' or ')' or '<' or '>'))
        {
            throw ApiException.BadRequest($"unable to parse requirement: {part}");
        }
        return get => get(existing) is not null;
    }

    private static (string Key, string Value) Split(string part, string op)
    {
        var at = part.IndexOf(op, StringComparison.Ordinal);
        return (part[..at].Trim(), part[(at + op.Length)..].Trim());
    }

    // Commas inside "in (a,b)" belong to the set, not to the list of requirements.
    private static IEnumerable<string> SplitTopLevel(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            yield break;
        }
        var depth = 0;
        var start = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || (text[i] == ',' && depth == 0))
            {
                var part = text[start..i].Trim();
                if (part.Length > 0)
                {
                    yield return part;
                }
                start = i + 1;
            }
            else if (text[i] == '(')
            {
                depth++;
            }
            else if (text[i] == ')')
            {
                depth--;
            }
        }
    }
}
