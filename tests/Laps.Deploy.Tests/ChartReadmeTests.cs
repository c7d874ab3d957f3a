using System.Text.Json.Nodes;

namespace Laps.Deploy.Tests;

/// <summary>The chart README's values table keeps up with values.yaml.</summary>
public class ChartReadmeTests
{
    // Kubernetes-shaped values documented as one row rather than field by field.
    private static readonly HashSet<string> WholeRows = new(StringComparer.Ordinal)
    {
        "operator.resources", "operator.podSecurityContext", "operator.securityContext",
        "operator.livenessProbe", "operator.readinessProbe", "grafanaDashboard.labels",
    };

    public static TheoryData<string> ValueKeys
    {
        get
        {
            var values = Yaml.Load(File.ReadAllText(Tools.InRepo("charts", "laps", "values.yaml")))!.AsObject();
            var keys = new TheoryData<string>();
            foreach (var key in Leaves(values, ""))
            {
                keys.Add(key);
            }
            return keys;
        }
    }

    [Theory]
    [MemberData(nameof(ValueKeys))]
    public void The_chart_readme_documents_the_value(string key)
    {
        var readme = File.ReadAllText(Tools.InRepo("charts", "laps", "README.md"));

        Assert.Contains($"| `{key}` |", readme, StringComparison.Ordinal);
    }

    private static IEnumerable<string> Leaves(JsonObject map, string prefix)
    {
        foreach (var (name, value) in map)
        {
            var path = prefix + name;
            if (value is JsonObject { Count: > 0 } child && !WholeRows.Contains(path))
            {
                foreach (var leaf in Leaves(child, path + "."))
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return path;
            }
        }
    }
}
