namespace Laps.Operator.Hosting;

/// <summary>Everything <c>laps operator</c> takes (its command line: docs/inferencepool.md).</summary>
public sealed record OperatorOptions
{
    public string Url { get; init; } = "http://*:8081";

    /// <summary>Namespace to watch; empty watches all.</summary>
    public string Namespace { get; init; } = "";

    public bool LeaderElect { get; init; } = true;

    public string LeaseName { get; init; } = "laps-operator";

    public string LeaseNamespace { get; init; } = "default";

    public string DefaultImage { get; init; } = OperatorSettings.DefaultImageName;

    /// <summary>Null: in-cluster config inside a pod, else the default kubeconfig.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary>This instance's name on the Lease (the pod name).</summary>
    public string Identity { get; init; } = Environment.MachineName;
}
