namespace Laps.Monitoring.Tests;

/// <summary>Where the monitoring files live: found from the test binary up to the repository root.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Dashboard => Path.Combine(Root, "monitoring", "grafana", "laps-dashboard.json");

    public static string Alerts => Path.Combine(Root, "monitoring", "prometheus", "alerts.yaml");

    public static string AlertTests => Path.Combine(Root, "monitoring", "prometheus", "alerts.test.yaml");

    public static string Runbook => Path.Combine(Root, "docs", "operations.md");

    /// <summary>The prometheus-adapter rule behind examples/hpa-queue-depth.yaml.</summary>
    public static string AdapterValues => Path.Combine(Root, "examples", "prometheus-adapter-values.yaml");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Operator.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Operator.sln above {AppContext.BaseDirectory}");
    }
}
