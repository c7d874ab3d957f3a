using System.Text;

namespace Laps.Deploy.Tests;

/// <summary>
/// The whole rendered chart, reviewed once and kept in golden/: any change to what the chart renders shows up as
/// a diff here. Regenerate after an intended change with LAPS_UPDATE_GOLDEN=1 dotnet test tests/Laps.Deploy.Tests
/// and review the diff. The dashboard and the alert groups are other files' content (checked by MonitoringTests),
/// so the goldens hold a marker in their place.
/// </summary>
public class GoldenTests
{
    [Theory]
    [InlineData(Chart.Default)]
    [InlineData(Chart.AllFeatures)]
    public void The_rendered_chart_matches_its_golden_file(string values)
    {
        var actual = WithoutCopiedFiles(Chart.Get(values).Text);
        var golden = Path.Combine(Tools.RepoRoot, "tests", "Laps.Deploy.Tests", "golden", $"{values}.yaml");

        if (Environment.GetEnvironmentVariable("LAPS_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(golden, actual);
        }

        Assert.True(File.Exists(golden), $"{golden} is missing: run with LAPS_UPDATE_GOLDEN=1 to write it");
        Assert.Equal(File.ReadAllText(golden), actual);
    }

    private static string WithoutCopiedFiles(string rendered)
    {
        var output = new StringBuilder();
        string? skipUntilIndentBelow = null;
        foreach (var line in rendered.Split('\n'))
        {
            if (skipUntilIndentBelow is not null)
            {
                if (line.StartsWith(skipUntilIndentBelow, StringComparison.Ordinal))
                {
                    continue;
                }
                skipUntilIndentBelow = null;
            }
            output.Append(line).Append('\n');
            var trimmed = line.TrimStart();
            if (trimmed is "laps-dashboard.json: |-" or "groups:")
            {
                var indent = new string(' ', line.Length - trimmed.Length + 2);
                output.Append(indent).Append(trimmed is "groups:" ? "# <files/alerts.yaml>" : "<files/laps-dashboard.json>").Append('\n');
                skipUntilIndentBelow = indent;
            }
        }
        return output.ToString().TrimEnd('\n') + "\n";
    }
}
