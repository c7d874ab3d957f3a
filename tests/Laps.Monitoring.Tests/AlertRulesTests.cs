using System.Text.RegularExpressions;

namespace Laps.Monitoring.Tests;

/// <summary>The alert rules: valid for Prometheus, unit-tested by promtool, each with what on-call needs.</summary>
public sealed partial class AlertRulesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly RuleFile Rules = RuleFile.Load(Repository.Alerts);

    public static TheoryData<string> AlertNames => [.. Rules.Alerts.Select(a => a.Alert!)];

    [Fact]
    public void Promtool_check_rules_accepts_the_file()
    {
        var promtool = ExternalTool.Find("promtool");
        var (exitCode, output) = ExternalTool.Run(promtool, ["check", "rules", Repository.Alerts], Repository.Root, Bound);
        Assert.True(exitCode == 0, output);
        Assert.Contains($"SUCCESS: {Rules.Groups.Sum(g => g.Rules.Count)} rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Promtool_test_rules_passes_the_unit_tests()
    {
        var promtool = ExternalTool.Find("promtool");
        // rule_files in the test file are relative to it.
        var (exitCode, output) = ExternalTool.Run(promtool, ["test", "rules", Path.GetFileName(Repository.AlertTests)], Path.GetDirectoryName(Repository.AlertTests)!, Bound);
        Assert.True(exitCode == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AlertNames))]
    public void The_alert_waits_has_a_severity_a_summary_a_description_and_a_runbook(string name)
    {
        var alert = Assert.Single(Rules.Alerts, a => a.Alert == name);
        Assert.Matches(@"^\d+[smh]$", alert.For ?? "");
        Assert.Contains(alert.Labels.GetValueOrDefault("severity"), new[] { "critical", "warning" });
        Assert.False(string.IsNullOrWhiteSpace(alert.Annotations.GetValueOrDefault("summary")));
        Assert.False(string.IsNullOrWhiteSpace(alert.Annotations.GetValueOrDefault("description")));
        Assert.Equal($"docs/operations.md#{name.ToLowerInvariant()}", alert.Annotations.GetValueOrDefault("runbook_url"));
    }

    [Theory]
    [MemberData(nameof(AlertNames))]
    public void The_runbook_has_a_section_for_the_alert(string name)
    {
        // GitHub's anchor for "## LapsSchedulerDown" is #lapsschedulerdown.
        var headings = Heading().Matches(File.ReadAllText(Repository.Runbook)).Select(m => m.Groups[1].Value.Trim().ToLowerInvariant());
        Assert.Contains(name.ToLowerInvariant(), headings);
    }

    [Theory]
    [MemberData(nameof(AlertNames))]
    public void The_unit_tests_see_the_alert_fire_and_not_fire(string name)
    {
        var cases = RuleTestFile.Load(Repository.AlertTests).Tests.SelectMany(t => t.AlertRuleTest).Where(c => c.Alertname == name).ToList();
        Assert.Contains(cases, c => c.ExpAlerts.Count > 0);
        Assert.Contains(cases, c => c.ExpAlerts.Count == 0);
    }

    [Fact]
    public void The_unit_tests_load_the_rules_file()
        => Assert.Equal(["alerts.yaml"], RuleTestFile.Load(Repository.AlertTests).RuleFiles);

    [GeneratedRegex(@"(?m)^##\s+(.+)$")]
    private static partial Regex Heading();
}
