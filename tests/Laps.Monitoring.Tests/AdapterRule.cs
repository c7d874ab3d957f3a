using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Laps.Monitoring.Tests;

/// <summary>
/// A prometheus-adapter custom-metrics rule (kubernetes-sigs/prometheus-adapter docs/config.md), as far as the tests
/// read it, from the prometheus-adapter chart's values (<c>rules.custom</c>).
/// </summary>
internal sealed class AdapterRule
{
    public string SeriesQuery { get; set; } = "";

    public AdapterResources Resources { get; set; } = new();

    public AdapterNaming Name { get; set; } = new();

    public string MetricsQuery { get; set; } = "";

    /// <summary>The one custom rule of a values file.</summary>
    public static AdapterRule Load(string path) => Assert.Single(new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build()
        .Deserialize<AdapterValues>(File.ReadAllText(path)).Rules.Custom);

    /// <summary>
    /// The query the adapter sends for <paramref name="series"/> of one object: its template filled as the adapter fills
    /// it (the object's label and its namespace as matchers, grouped by the object's label).
    /// </summary>
    public string QueryFor(string series, string objectLabel, string name, string ns) => MetricsQuery
        .Replace("<<.Series>>", series, StringComparison.Ordinal)
        .Replace("<<.LabelMatchers>>", $"{objectLabel}=\"{name}\",namespace=\"{ns}\"", StringComparison.Ordinal)
        .Replace("<<.GroupBy>>", objectLabel, StringComparison.Ordinal);
}

internal sealed class AdapterResources
{
    public Dictionary<string, Dictionary<string, string>> Overrides { get; set; } = [];
}

internal sealed class AdapterNaming
{
    public string Matches { get; set; } = "";
}

internal sealed class AdapterValues
{
    public AdapterRuleSets Rules { get; set; } = new();
}

internal sealed class AdapterRuleSets
{
    public List<AdapterRule> Custom { get; set; } = [];
}
