namespace Laps.Deploy.Tests;

/// <summary>
/// The chart carries copies of files owned elsewhere (Helm packages only what is under the chart): the CRD from
/// crds/ and the monitoring files. A copy that drifts from its original fails here.
/// </summary>
public class CopiesTests
{
    [Fact]
    public void The_charts_crds_folder_holds_byte_identical_copies_of_every_canonical_crd()
    {
        var canonical = Files(Tools.InRepo("crds"));
        var copies = Files(Tools.InRepo("charts", "laps", "crds"));

        Assert.NotEmpty(canonical);
        Assert.Equal(canonical.Keys, copies.Keys);
        Assert.All(canonical, c => Assert.True(c.Value.SequenceEqual(copies[c.Key]), $"charts/laps/crds/{c.Key} differs from crds/{c.Key}"));
    }

    [Theory]
    [InlineData("monitoring/grafana/laps-dashboard.json", "charts/laps/files/laps-dashboard.json")]
    [InlineData("monitoring/prometheus/alerts.yaml", "charts/laps/files/alerts.yaml")]
    public void The_chart_carries_an_identical_copy_of_the_monitoring_file(string canonical, string copy)
    {
        var original = File.ReadAllBytes(Tools.InRepo(canonical.Split('/')));

        Assert.True(original.SequenceEqual(File.ReadAllBytes(Tools.InRepo(copy.Split('/')))), $"{copy} differs from {canonical}: copy it over");
    }

    private static SortedDictionary<string, byte[]> Files(string dir) =>
        new(Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes), StringComparer.Ordinal);
}
