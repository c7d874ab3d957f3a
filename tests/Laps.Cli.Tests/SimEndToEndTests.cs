using System.Text.Json;
using Laps.Cli.Commands;

namespace Laps.Cli.Tests;

/// <summary>`laps sim` with the real simulator behind it: small studies, real files, real errors.</summary>
public sealed class SimEndToEndTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Cli RealCli() => new(spec => SimCommand.RunExperiment(spec, null, CancellationToken.None));

    [Fact]
    public void A_small_study_on_a_built_in_profile_writes_every_policy_for_every_seed()
    {
        var outDir = _dir.File("out");

        var (exitCode, stdout, stderr) = RealCli().Run(
            "sim", "--workload", "gsm8k", "--requests", "80", "--seeds", "2", "--batch", "2", "--load", "0.7", "--out", outDir, "--json", "--parallel", "1");

        Assert.True(exitCode == 0, stderr);
        using var document = JsonDocument.Parse(stdout);
        var runs = document.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(7 * 2, runs.Count);
        Assert.All(runs, r => Assert.True(r.GetProperty("mean_latency_s").GetDouble() > 0));
        Assert.All(runs, r => Assert.Equal(80, r.GetProperty("requests").GetInt32()));
        Assert.True(File.Exists(Path.Combine(outDir, "latency_cdf_b2.png")));
    }

    [Fact]
    public void A_malformed_trace_line_is_named_by_file_and_line()
    {
        var trace = _dir.File("bad.jsonl");
        File.WriteAllLines(trace,
        [
            """{"id":"a","dataset":"t","prompt_tokens":5,"output_tokens":2,"acc_len_eagle":[1,1],"acc_len_ngram":[1,1]}""",
            """{"id":"b","dataset":"t","prompt_tokens":5,"output_tokens":2,"acc_len_eagle":[1,0],"acc_len_ngram":[1,1]}""",
        ]);

        var (exitCode, stdout, stderr) = RealCli().Run("sim", "--workload", trace, "--requests", "10", "--seeds", "1", "--out", _dir.File("out"));

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("bad.jsonl", line, StringComparison.Ordinal);
        Assert.Contains("line 2", line, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_workload_is_named()
    {
        var (exitCode, _, stderr) = RealCli().Run("sim", "--workload", "no-such-profile", "--out", _dir.File("out"));

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("no-such-profile", line, StringComparison.Ordinal);
    }
}
