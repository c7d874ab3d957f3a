using k8s;
using Laps.Operator;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Deploy.Tests;

/// <summary>
/// The example pools (examples/inferencepool-*.yaml) as a cluster holds them: each InferencePool, every object the
/// operator creates for it (<see cref="DesiredState.Build"/>, the code the operator runs, with the ServiceMonitor kind
/// installed) and the autoscaler of examples/hpa-queue-depth.yaml, which scales the CPU example.
/// </summary>
public static class Pools
{
    public static string ExampleFile => Tools.InRepo("examples", "inferencepool-cpu-sim.yaml");

    public static string AutoscalerFile => Tools.InRepo("examples", "hpa-queue-depth.yaml");

    private static readonly Lazy<Rendered> ExamplesRender = new(() =>
    {
        var documents = new List<string>();
        foreach (var file in Directory.GetFiles(Tools.InRepo("examples"), "inferencepool-*.yaml").Order(StringComparer.Ordinal))
        {
            var manifest = File.ReadAllText(file);
            var pool = KubernetesYaml.Deserialize<InferencePool>(manifest, strict: true);
            documents.Add(manifest);
            documents.Add(KubernetesYaml.SerializeAll(DesiredState.Build(pool, new OperatorSettings(), ClusterCapabilities.None with { ServiceMonitorCrd = true })));
        }

        documents.Add(File.ReadAllText(AutoscalerFile));
        return new Rendered(string.Join("\n---\n", documents));
    });

    /// <summary>Every example pool's objects, and the autoscaler.</summary>
    public static Rendered Examples => ExamplesRender.Value;

    /// <summary>The CPU example's name: what the docs' placeholders for a pool stand for.</summary>
    public static string ExampleName { get; } = KubernetesYaml.Deserialize<InferencePool>(File.ReadAllText(ExampleFile), strict: true).Metadata.Name;
}
