using System.Runtime.CompilerServices;
using k8s;
using Laps.Operator.Model;

namespace Laps.Operator.Tests;

internal static class TestAssets
{
    public static InferencePool LoadPool(string path) => KubernetesYaml.Deserialize<InferencePool>(File.ReadAllText(path), strict: true);

    public static string SourceDirectory([CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;
}
