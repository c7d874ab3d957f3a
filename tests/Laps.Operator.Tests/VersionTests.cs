using System.Xml.Linq;
using YamlDotNet.RepresentationModel;

namespace Laps.Operator.Tests;

/// <summary>One release version for the CLI, the image the operator gives pods, and the Helm chart.</summary>
public sealed class VersionTests
{
    private static string Repo(params string[] parts) => Path.GetFullPath(Path.Combine([TestAssets.SourceDirectory(), "..", "..", .. parts]));

    private static string BuildVersion()
        => XDocument.Load(Repo("Directory.Build.props")).Descendants("Version").Single().Value;

    private static YamlMappingNode Yaml(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static string Scalar(YamlMappingNode node, params string[] path)
    {
        foreach (var key in path[..^1])
        {
            node = (YamlMappingNode)node[key];
        }

        return ((YamlScalarNode)node[path[^1]]).Value!;
    }

    [Fact]
    public void The_chart_the_build_and_the_operators_default_image_share_one_version()
    {
        var version = BuildVersion();
        var chart = Yaml(Repo("charts", "laps", "Chart.yaml"));
        var values = Yaml(Repo("charts", "laps", "values.yaml"));

        Assert.Equal(version, OperatorSettings.Version);
        Assert.Equal(version, Scalar(chart, "version"));
        Assert.Equal(version, Scalar(chart, "appVersion"));
        Assert.Equal($"{Scalar(values, "image", "repository")}:{version}", OperatorSettings.DefaultImageName);
    }
}
