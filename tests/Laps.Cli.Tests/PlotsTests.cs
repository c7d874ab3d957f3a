using Laps.Cli.Reports;

namespace Laps.Cli.Tests;

public sealed class PlotsTests : IDisposable
{
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void AssertPng(string path)
    {
        Assert.True(File.Exists(path), path);
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(PngMagic, bytes.Take(PngMagic.Length));
    }

    [Fact]
    public void Writes_a_load_plot_and_a_cdf_plot_per_batch()
    {
        var results = Runs.Study([0.5, 0.7, 0.9], [1, 8], ["fcfs", "mlfq", "las", "sjf", "srpt", "laps", "oracle"], seeds: 3);

        var written = Plots.Write(_dir.Path, results);

        string[] expected = ["latency_vs_load_b1.png", "latency_cdf_b1.png", "latency_vs_load_b8.png", "latency_cdf_b8.png"];
        Assert.Equal(expected.Select(_dir.File), written);
        Assert.All(written, AssertPng);
    }

    [Fact]
    public void Plots_of_an_earlier_run_are_not_left_beside_the_new_ones()
    {
        Plots.Write(_dir.Path, Runs.Study([0.5, 0.9], [1, 8], ["fcfs", "laps"], seeds: 1));
        File.WriteAllText(_dir.File("notes.png"), "mine");

        Plots.Write(_dir.Path, Runs.Study([0.5, 0.9], [4], ["fcfs", "laps"], seeds: 1));

        Assert.Equal(["latency_cdf_b4.png", "latency_vs_load_b4.png", "notes.png"],
            Directory.EnumerateFiles(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void One_seed_and_one_load_still_plot()
    {
        var written = Plots.Write(_dir.Path, Runs.Study([0.85], [4], ["fcfs", "laps"], seeds: 1));

        Assert.All(written, AssertPng);
    }

    [Fact]
    public void Results_without_per_request_latencies_still_plot()
    {
        var written = Plots.Write(_dir.Path, [Runs.Make("fcfs"), Runs.Make("laps", load: 0.5)]);

        Assert.All(written, AssertPng);
    }

    [Fact]
    public void Cdf_is_thinned_but_keeps_the_extremes()
    {
        var sorted = Enumerable.Range(1, 10_000).Select(i => (double)i).ToArray();

        var (xs, ys) = Plots.Cdf(sorted);

        Assert.Equal(2000, xs.Length);
        Assert.Equal(0, xs[0], 12);
        Assert.Equal(4, xs[^1], 12);
        Assert.Equal(1, ys[^1], 12);
        Assert.True(ys.Zip(ys.Skip(1)).All(p => p.First < p.Second));
    }
}
