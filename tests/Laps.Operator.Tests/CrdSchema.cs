using System.Globalization;
using System.Text.Json.Nodes;
using Cel;
using Json.Schema;
using YamlDotNet.RepresentationModel;

namespace Laps.Operator.Tests;

/// <summary>
/// The InferencePool CRD as a validator, the way an API server applies it: defaults, then the structural schema
/// (converted to JSON Schema 2020-12 for JsonSchema.Net, with unknown fields rejected as kubectl's strict field
/// validation does), then the CEL rules (x-kubernetes-validations) with the Cel package.
/// </summary>
internal sealed class CrdSchema
{
    private readonly JsonObject _openApi;
    private readonly JsonSchema _schema;
    private readonly CelEnvironment _cel = new(null, "");

    private CrdSchema(JsonObject crd)
    {
        Crd = crd;
        _openApi = crd["spec"]!["versions"]![0]!["schema"]!["openAPIV3Schema"]!.AsObject();
        _schema = JsonSchema.FromText(ToJsonSchema(_openApi.DeepClone()).ToJsonString());
    }

    public JsonObject Crd { get; }

    public static CrdSchema Load(string path = "crds/laps.dev_inferencepools.yaml") => new(Yaml.LoadOne(File.ReadAllText(path)).AsObject());

    /// <summary>Every problem with <paramref name="instance"/>: schema errors, then failed CEL rules (their messages).</summary>
    public IReadOnlyList<string> Validate(JsonNode instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var defaulted = instance.DeepClone();
        ApplyDefaults(_openApi, defaulted);
        var result = _schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(defaulted), new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (!result.IsValid)
        {
            return [.. (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))];
        }

        var failures = new List<string>();
        Rules(_openApi, defaulted, failures);
        return failures;
    }

    /// <summary>Every CEL rule in the schema, with the schema path it applies to.</summary>
    public IEnumerable<string> RuleTexts() => AllRules(_openApi).Select(r => r["rule"]!.GetValue<string>());

    private static IEnumerable<JsonObject> AllRules(JsonNode? schema) => schema switch
    {
        JsonObject o => (o["x-kubernetes-validations"]?.AsArray().Select(r => r!.AsObject()) ?? [])
            .Concat(o.Where(p => p.Key != "x-kubernetes-validations").SelectMany(p => AllRules(p.Value))),
        JsonArray a => a.SelectMany(AllRules),
        _ => [],
    };

    // Structural defaulting: a missing property with a default gets it, recursively into what exists.
    private static void ApplyDefaults(JsonObject schema, JsonNode? value)
    {
        if (value is JsonObject obj && schema["properties"] is JsonObject properties)
        {
            foreach (var (name, propertySchema) in properties)
            {
                if (!obj.ContainsKey(name) && propertySchema!["default"] is { } d)
                {
                    obj[name] = d.DeepClone();
                }

                if (obj[name] is { } child)
                {
                    ApplyDefaults(propertySchema!.AsObject(), child);
                }
            }
        }
        else if (value is JsonArray array && schema["items"] is JsonObject items)
        {
            foreach (var item in array)
            {
                ApplyDefaults(items, item);
            }
        }
    }

    private void Rules(JsonObject schema, JsonNode? value, List<string> failures)
    {
        if (value is null)
        {
            return;
        }

        foreach (var rule in schema["x-kubernetes-validations"]?.AsArray() ?? [])
        {
            var text = rule!["rule"]!.GetValue<string>();
            var ok = _cel.Program(text, new Dictionary<string, object?> { ["self"] = ToCel(value) });
            if (ok is not true)
            {
                failures.Add(rule["message"]?.GetValue<string>() ?? text);
            }
        }

        if (value is JsonObject obj && schema["properties"] is JsonObject properties)
        {
            foreach (var (name, propertySchema) in properties)
            {
                Rules(propertySchema!.AsObject(), obj[name], failures);
            }
        }
        else if (value is JsonArray array && schema["items"] is JsonObject items)
        {
            foreach (var item in array)
            {
                Rules(items, item, failures);
            }
        }
    }

    private static object? ToCel(JsonNode? node) => node switch
    {
        JsonObject o => o.ToDictionary(p => p.Key, p => ToCel(p.Value)),
        JsonArray a => a.Select(ToCel).ToArray(),
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<double>(out var d) => d,
        JsonValue v => v.GetValue<string>(),
        _ => null,
    };

    // OpenAPI v3 structural schema → JSON Schema 2020-12.
    private static JsonNode ToJsonSchema(JsonNode schema)
    {
        if (schema is JsonObject o)
        {
            if (o["exclusiveMinimum"] is JsonValue ex && ex.TryGetValue<bool>(out var exclusive))
            {
                o.Remove("exclusiveMinimum");
                if (exclusive && o["minimum"] is { } min)
                {
                    o.Remove("minimum");
                    o["exclusiveMinimum"] = min.DeepClone();
                }
            }

            var preserve = o["x-kubernetes-preserve-unknown-fields"] is JsonValue p && p.GetValue<bool>();
            foreach (var key in o.Select(k => k.Key).Where(k => k.StartsWith("x-kubernetes-", StringComparison.Ordinal)).ToList())
            {
                o.Remove(key);
            }

            foreach (var (key, child) in o.ToList())
            {
                if (key is "properties" && child is JsonObject props)
                {
                    foreach (var (name, sub) in props.ToList())
                    {
                        props[name] = ToJsonSchema(sub!.DeepClone());
                    }
                }
                else if (key is "items" or "additionalProperties" && child is JsonObject)
                {
                    o[key] = ToJsonSchema(child.DeepClone());
                }
                else if (key is "anyOf" or "allOf" or "oneOf" && child is JsonArray list)
                {
                    o[key] = new JsonArray([.. list.Select(s => ToJsonSchema(s!.DeepClone()))]);
                }
            }

            if (o["properties"] is not null && o["additionalProperties"] is null && !preserve)
            {
                o["additionalProperties"] = false;
            }

            // metadata is the API server's to check.
            if (o["properties"]?["metadata"] is JsonObject meta)
            {
                meta.Remove("additionalProperties");
            }
        }

        return schema;
    }
}

/// <summary>YAML → JsonNode with YAML 1.2 core scalars (plain true/false/numbers/null typed; quoted ones strings).</summary>
internal static class Yaml
{
    public static JsonNode LoadOne(string text) => LoadAll(text).Single()!;

    public static IReadOnlyList<JsonNode?> LoadAll(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return [.. stream.Documents.Select(d => Convert(d.RootNode))];
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Convert(c.Value)))),
        YamlSequenceNode s => new JsonArray([.. s.Children.Select(Convert)]),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } p => Plain(p.Value ?? ""),
        YamlScalarNode q => JsonValue.Create(q.Value),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    private static JsonValue? Plain(string value)
    {
        if (value is "null" or "~" or "")
        {
            return null;
        }

        if (value is "true" or "false")
        {
            return JsonValue.Create(value == "true");
        }

        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }

        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !value.Contains(':', StringComparison.Ordinal)
            ? JsonValue.Create(d)
            : JsonValue.Create(value);
    }
}
