namespace Laps.Operator;

/// <summary>How the operator runs (from <c>laps operator</c>'s options); the builder reads only <see cref="DefaultImage"/>.</summary>
public sealed record OperatorSettings
{
    public const string DefaultImageName = "ghcr.io/laps-dev/laps:latest";

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
