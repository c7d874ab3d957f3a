using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Laps.Monitoring.Tests;

/// <summary>A Prometheus rules file (<c>groups:</c>), as far as the tests read it.</summary>
internal sealed class RuleFile
{
    public List<RuleGroup> Groups { get; set; } = [];

    public IEnumerable<AlertingRule> Alerts => Groups.SelectMany(g => g.Rules).Where(r => r.Alert is not null);

    public static RuleFile Load(string path) => new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build()
        .Deserialize<RuleFile>(File.ReadAllText(path));
}

internal sealed class RuleGroup
{
    public string Name { get; set; } = "";

    public List<AlertingRule> Rules { get; set; } = [];
}

internal sealed class AlertingRule
{
    public string? Alert { get; set; }

    public string Expr { get; set; } = "";

    public string? For { get; set; }

    public Dictionary<string, string> Labels { get; set; } = [];

    public Dictionary<string, string> Annotations { get; set; } = [];

    public override string ToString() => Alert ?? Expr;
}

/// <summary>A <c>promtool test rules</c> file, as far as the tests read it: which alerts each test expects when.</summary>
internal sealed class RuleTestFile
{
    public List<string> RuleFiles { get; set; } = [];

    public List<RuleTest> Tests { get; set; } = [];

    public static RuleTestFile Load(string path) => new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build()
        .Deserialize<RuleTestFile>(File.ReadAllText(path));
}

internal sealed class RuleTest
{
    public string Name { get; set; } = "";

    public List<AlertRuleTest> AlertRuleTest { get; set; } = [];
}

internal sealed class AlertRuleTest
{
    public string EvalTime { get; set; } = "";

    public string Alertname { get; set; } = "";

    public List<Dictionary<string, object>> ExpAlerts { get; set; } = [];
}
