using System.Text.Json;

namespace Laps.Cli.Tests;

public sealed class SimCommandTests : IDisposable
{
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    private static Cli StudyCli() => new(spec => Runs.Study([.. spec.Loads], [.. spec.Batches], [.. spec.Policies], spec.Seeds));

    [Fact]
    public void Writes_json_csv_and_plots_into_out_and_prints_a_table()
    {
        var outDir = Path.Combine(_out.Path, "nested", "sim");
        var cli = StudyCli();

        var (exitCode, stdout, stderr) = cli.Run("sim", "--out", outDir, "--load", "0.5,0.9", "--batch", "1,4", "--seeds", "2");

        Assert.True(exitCode == 0, stderr);
        string[] files =
        [
            "latency_cdf_b1.png", "latency_cdf_b4.png", "latency_vs_load_b1.png", "latency_vs_load_b4.png",
            "results.csv", "results.json",
        ];
        Assert.Equal(files, Directory.GetFiles(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("laps", stdout, StringComparison.Ordinal);
        Assert.Contains("oracle", stdout, StringComparison.Ordinal);
        Assert.Contains("results.json", stderr, StringComparison.Ordinal);
        Assert.Equal(2 * 2 * 2 * 7, cli.ProgressReports);
    }

    [Fact]
    public void Json_prints_the_results_document_and_still_writes_the_files()
    {
        var (exitCode, stdout, stderr) = StudyCli().Run("sim", "--out", _out.Path, "--json", "--policies", "fcfs,laps", "--seeds", "2");

        Assert.True(exitCode == 0, stderr);
        Assert.Equal(string.Empty, stderr);
        Assert.Equal(File.ReadAllText(_out.File("results.json")), stdout);
        using var document = JsonDocument.Parse(stdout);
        Assert.Equal(4, document.RootElement.GetProperty("runs").GetArrayLength());
        Assert.True(File.Exists(_out.File("results.csv")));
        Assert.True(File.Exists(_out.File("latency_vs_load_b1.png")));
    }

    [Fact]
    public void An_out_path_that_is_a_file_is_one_line()
    {
        var blocker = _out.File("taken");
        File.WriteAllText(blocker, "not a directory");

        var (exitCode, stdout, stderr) = StudyCli().Run("sim", "--out", blocker);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("laps sim: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void No_runs_still_write_an_empty_results_document()
    {
        var (exitCode, _, stderr) = new Cli().Run("sim", "--out", _out.Path);

        Assert.True(exitCode == 0, stderr);
        using var document = JsonDocument.Parse(File.ReadAllText(_out.File("results.json")));
        Assert.Equal(0, document.RootElement.GetProperty("runs").GetArrayLength());
    }

    [Fact]
    public void Help_succeeds_and_lists_the_options()
    {
        var (exitCode, stdout, _) = new Cli().Run("sim", "--help");

        Assert.Equal(0, exitCode);
        Assert.Contains("--laps-tolerance", stdout, StringComparison.Ordinal);
        Assert.Contains("eagle|ngram|draft", stdout, StringComparison.Ordinal);
    }
}
