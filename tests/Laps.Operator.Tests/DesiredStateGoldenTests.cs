using k8s;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Operator.Tests;

/// <summary>
/// The desired state of each pool under testassets/&lt;case&gt;/pool.yaml, compared with expected.yaml.
/// LAPS_UPDATE_GOLDEN=1 rewrites the expected files in the source tree (review the diff).
/// </summary>
public sealed class DesiredStateGoldenTests
{
    private static readonly OperatorSettings Settings = new() { DefaultImage = "ghcr.io/laps-dev/laps:test" };

    public static TheoryData<string> Cases => ["minimal", "laps-tuned", "gpu-custom", "secured", "vllm-eagle", "sglang"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Build_matches_the_golden_manifests(string name)
    {
        var pool = TestAssets.LoadPool(Path.Combine("testassets", name, "pool.yaml"));

        var actual = KubernetesYaml.SerializeAll(DesiredState.Build(pool, Settings, new ClusterCapabilities(ServiceMonitorCrd: true)));

        var expectedPath = Path.Combine("testassets", name, "expected.yaml");
        if (Environment.GetEnvironmentVariable("LAPS_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(Path.Combine(TestAssets.SourceDirectory(), expectedPath), actual);
            return;
        }

        Assert.Equal(File.ReadAllText(expectedPath), actual);
    }
}
