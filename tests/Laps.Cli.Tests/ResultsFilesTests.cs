using System.Text.Json;
using Laps.Cli.Reports;

namespace Laps.Cli.Tests;

public sealed class ResultsFilesTests : IDisposable
{
    // docs/cli.md: the fields every run carries.
    private static readonly string[] ContractFields =
    [
        "policy", "workload", "proposer", "arrivals", "load", "batch", "seed", "requests", "mean_latency_s",
        "p50_latency_s", "p99_latency_s", "mean_ttft_s", "preemptions_per_request", "estimate_mape",
    ];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Json_is_a_runs_array_with_the_contract_field_names()
    {
        var json = ResultsFiles.ToJson([Runs.Make("laps", mape: 0.0684), Runs.Make("fcfs")]);

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(["runs"], root.EnumerateObject().Select(p => p.Name));
        var runs = root.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(2, runs.Count);
        foreach (var run in runs)
        {
            var names = run.EnumerateObject().Select(p => p.Name).ToList();
            Assert.All(ContractFields, field => Assert.Contains(field, names));
            Assert.DoesNotContain("Latencies", names, StringComparer.OrdinalIgnoreCase);
        }

        Assert.Equal("laps", runs[0].GetProperty("policy").GetString());
        Assert.Equal(0.85, runs[0].GetProperty("load").GetDouble());
        Assert.Equal(1, runs[0].GetProperty("batch").GetInt32());
        Assert.Equal(0.0684, runs[0].GetProperty("estimate_mape").GetDouble());
        Assert.Equal(JsonValueKind.Null, runs[1].GetProperty("estimate_mape").ValueKind);
    }

    [Fact]
    public void Write_puts_results_json_and_csv_in_the_directory()
    {
        var runs = new[] { Runs.Make("laps", mape: 0.05) };

        ResultsFiles.Write(_dir.Path, runs);

        Assert.Equal(ResultsFiles.ToJson(runs) + "\n", File.ReadAllText(_dir.File("results.json")));
        Assert.Equal(ResultsFiles.ToCsv(runs), File.ReadAllText(_dir.File("results.csv")));
    }

    [Fact]
    public void Csv_header_lists_the_json_fields_in_order()
    {
        var csv = ResultsFiles.ToCsv([Runs.Make()]);

        var header = csv.Split('\n')[0].Split(',');
        Assert.Equal(ContractFields, header.Take(ContractFields.Length));
        Assert.Equal(
            ["predictor", "arrival_rate_rps", "p99_ttft_s", "busy_s", "makespan_s", "steps", "recomputed_tokens", "workers"],
            header.Skip(ContractFields.Length));
    }

    [Fact]
    public void Csv_rows_are_invariant_with_empty_null_and_quoted_commas()
    {
        var csv = ResultsFiles.ToCsv([Runs.Make("fcfs", load: 0.85, meanLatency: 12.5, workload: "a.jsonl:2,b.jsonl")]);

        var row = csv.Split('\n')[1];
        Assert.StartsWith("fcfs,\"a.jsonl:2,b.jsonl\",eagle,poisson,0.85,1,1,100,12.5,6.25,62.5,0.25,1.5,,", row, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_has_one_line_per_run_after_the_header()
    {
        var csv = ResultsFiles.ToCsv([Runs.Make(seed: 1), Runs.Make(seed: 2), Runs.Make(seed: 3)]);

        Assert.Equal(4, csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}
