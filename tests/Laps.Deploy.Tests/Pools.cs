using k8s;
using Laps.Operator;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Deploy.Tests;

/// <summary>
/// The example pool (examples/inferencepool-cpu-sim.yaml) as a cluster holds it: the InferencePool, every object the
/// operator creates for it (<see cref="DesiredState.Build"/>, the code the operator runs, with the ServiceMonitor kind
/// installed) and the autoscaler of examples/hpa-queue-depth.yaml.
/// </summary>
public static class Pools
{
    public static string ExampleFile => Tools.InRepo("examples", "inferencepool-cpu-sim.yaml");

    public static string AutoscalerFile => Tools.InRepo("examples", "hpa-queue-depth.yaml");

    private static readonly Lazy<Rendered> ExampleRender = new(() =>
    {
        var manifest = File.ReadAllText(ExampleFile);
        var pool = KubernetesYaml.Deserialize<InferencePool>(manifest, strict: true);
        var owned = DesiredState.Build(pool, new OperatorSettings(), ClusterCapabilities.None with { ServiceMonitorCrd = true });
        return new Rendered(string.Join("\n---\n", manifest, KubernetesYaml.SerializeAll(owned), File.ReadAllText(AutoscalerFile)));
    });

    public static Rendered Example => ExampleRender.Value;

    public static string ExampleName => (string)Example.OfKind("InferencePool").Single()["metadata"]!["name"]!;
}
