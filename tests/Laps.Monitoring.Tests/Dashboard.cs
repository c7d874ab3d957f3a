using System.Text.Json.Nodes;

namespace Laps.Monitoring.Tests;

/// <summary>The Grafana dashboard JSON, as far as the tests read it.</summary>
internal sealed class Dashboard(JsonObject root)
{
    public static Dashboard Load() => new(JsonNode.Parse(File.ReadAllText(Repository.Dashboard))!.AsObject());

    public JsonObject Root => root;

    /// <summary>Every panel, rows' nested panels included.</summary>
    public IReadOnlyList<JsonObject> Panels { get; } = [.. Flatten(root["panels"]!.AsArray())];

    public IEnumerable<JsonObject> QueryPanels => Panels.Where(p => (string?)p["type"] != "row");

    public IReadOnlyList<JsonObject> Variables => [.. root["templating"]!["list"]!.AsArray().Select(v => v!.AsObject())];

    /// <summary>(panel title, expression) of every target of every panel.</summary>
    public IEnumerable<(string Panel, string Expr)> Queries => QueryPanels.SelectMany(p =>
        (p["targets"]?.AsArray() ?? []).Select(t => ((string)p["title"]!, (string?)t!["expr"] ?? "")));

    private static IEnumerable<JsonObject> Flatten(JsonArray panels)
    {
        foreach (var panel in panels.Select(p => p!.AsObject()))
        {
            yield return panel;
            if (panel["panels"] is JsonArray nested)
            {
                foreach (var inner in Flatten(nested))
                {
                    yield return inner;
                }
            }
        }
    }
}
