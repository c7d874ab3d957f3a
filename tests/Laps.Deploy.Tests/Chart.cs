using System.Text.Json.Nodes;

namespace Laps.Deploy.Tests;

/// <summary>What does charts/laps render for a set of values? Each values set renders once per test run.</summary>
public sealed class Rendered
{
    public const string Release = "laps";
    public const string Namespace = "laps-system";

    public Rendered(string text)
    {
        Text = text;
        Documents = Yaml.LoadAll(text);
    }

    public string Text { get; }

    public IReadOnlyList<JsonObject> Documents { get; }

    public IEnumerable<JsonObject> OfKind(string kind) => Documents.Where(d => (string?)d["kind"] == kind);

    public JsonObject Find(string kind, string name) =>
        Documents.SingleOrDefault(d => (string?)d["kind"] == kind && (string?)d["metadata"]?["name"] == name)
        ?? throw new Xunit.Sdk.XunitException(
            $"no {kind} {name}; rendered: {string.Join(", ", Documents.Select(d => $"{d["kind"]} {d["metadata"]?["name"]}"))}");

    public JsonObject OperatorDeployment => Find("Deployment", Release);

    public JsonObject OperatorContainer =>
        OperatorDeployment["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single(c => (string?)c!["name"] == "operator")!.AsObject();
}

public static class Chart
{
    public const string Default = "default";
    public const string AllFeatures = "all-features";

    public static string Dir => Tools.InRepo("charts", "laps");

    public static string AllFeaturesValues => Tools.InRepo("charts", "laps", "ci", "all-features-values.yaml");

    private static readonly Lazy<Rendered> DefaultRender = new(() => Render());
    private static readonly Lazy<Rendered> AllFeaturesRender = new(() => Render("-f", AllFeaturesValues));

    public static Rendered Get(string values) => values switch
    {
        Default => DefaultRender.Value,
        AllFeatures => AllFeaturesRender.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(values), values, "default or all-features"),
    };

    public static string[] ValuesArgs(string values) => values == AllFeatures ? ["-f", AllFeaturesValues] : [];

    public static ToolResult Template(params string[] args) =>
        Tools.RunHelm(["template", Rendered.Release, Dir, "--namespace", Rendered.Namespace, .. args]);

    /// <summary>Renders with extra helm arguments (-f, --set); fails the test when helm does.</summary>
    public static Rendered Render(params string[] args)
    {
        var result = Template(args);
        Assert.True(result.ExitCode == 0, $"helm template {string.Join(' ', args)} failed:\n{result.Output}");
        return new Rendered(result.Stdout);
    }
}
