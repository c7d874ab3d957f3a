using System.Reflection;

namespace Laps.Operator;

/// <summary>How the operator runs (from <c>laps operator</c>'s options); the builder reads only <see cref="DefaultImage"/>.</summary>
public sealed record OperatorSettings
{
    /// <summary>The image repository the chart and the Dockerfile publish.</summary>
    public const string ImageRepository = "ghcr.io/laps-dev/laps";

    /// <summary>This build's release version (Directory.Build.props), without a source-revision suffix.</summary>
    public static string Version { get; } = (typeof(OperatorSettings).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary>The image of this very release: never a moving tag, so an operator upgrade is what changes the pods.</summary>
    public static string DefaultImageName { get; } = $"{ImageRepository}:{Version}";

    /// <summary>Image for sim workers and schedulers whose pool names none.</summary>
    public string DefaultImage { get; init; } = DefaultImageName;

    /// <summary>Namespace to watch; empty means all namespaces.</summary>
    public string WatchNamespace { get; init; } = "";

    /// <summary>Parallel reconciles (never two for one pool).</summary>
    public int Workers { get; init; } = 2;
}

/// <summary>What the cluster offers beyond the core API (probed at start).</summary>
public sealed record ClusterCapabilities(bool ServiceMonitorCrd)
{
    public static ClusterCapabilities None { get; } = new(false);
}
