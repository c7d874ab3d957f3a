using Laps.Cli.Reports;
using Spectre.Console;

namespace Laps.Cli.Tests;

public sealed class SummaryTests
{
    [Fact]
    public void Rows_aggregate_seeds_per_batch_load_and_policy()
    {
        var rows = Summary.Aggregate(
        [
            Runs.Make("fcfs", load: 0.9, seed: 1, meanLatency: 10), Runs.Make("fcfs", load: 0.9, seed: 2, meanLatency: 12),
            Runs.Make("laps", load: 0.9, seed: 1, meanLatency: 5, mape: 0.1), Runs.Make("laps", load: 0.9, seed: 2, meanLatency: 7, mape: 0.2),
            Runs.Make("fcfs", load: 0.5, seed: 1, meanLatency: 2), Runs.Make("fcfs", load: 0.5, seed: 2, meanLatency: 2),
        ]);

        Assert.Equal([(0.5, "fcfs"), (0.9, "fcfs"), (0.9, "laps")], rows.Select(r => (r.Load, r.Policy)));
        var laps = rows[2];
        Assert.Equal(2, laps.Seeds);
        Assert.Equal(6, laps.MeanLatency.Mean, 12);
        Assert.Equal(12.706205, laps.MeanLatency.HalfWidth, 5);
        Assert.Equal(3, laps.P50Latency, 12);
        Assert.Equal(0.15, laps.EstimateMape!.Value, 12);
        Assert.Null(rows[1].EstimateMape);
    }

    [Fact]
    public void Ratios_compare_with_fcfs_and_the_best_non_oracle_baseline_at_the_same_load()
    {
        var rows = Summary.Aggregate(
        [
            Runs.Make("fcfs", meanLatency: 20), Runs.Make("srpt", meanLatency: 10), Runs.Make("las", meanLatency: 16),
            Runs.Make("laps", meanLatency: 8), Runs.Make("oracle", meanLatency: 4),
        ]);

        var laps = rows.Single(r => r.Policy == "laps");
        Assert.Equal(0.4, laps.VersusFcfs!.Value, 12);
        Assert.Equal(0.8, laps.VersusBestBaseline!.Value, 12);
        Assert.Equal("srpt", laps.BestBaseline);
        Assert.Equal(1, rows.Single(r => r.Policy == "srpt").VersusBestBaseline!.Value, 12);
    }

    [Fact]
    public void Ratios_are_absent_when_no_baseline_ran()
    {
        var row = Assert.Single(Summary.Aggregate([Runs.Make("laps"), Runs.Make("laps", seed: 2)]));

        Assert.Null(row.VersusFcfs);
        Assert.Null(row.VersusBestBaseline);
    }

    [Fact]
    public void Table_shows_a_row_per_policy_with_dash_for_missing_mape()
    {
        using var writer = new StringWriter();
        var console = SummaryTable.ConsoleFor(writer);

        SummaryTable.Write(console, [Runs.Make("fcfs", meanLatency: 20), Runs.Make("laps", meanLatency: 8, mape: 0.0684)]);

        var text = writer.ToString();
        Assert.Contains("fcfs", text, StringComparison.Ordinal);
        Assert.Contains("laps", text, StringComparison.Ordinal);
        Assert.Contains("6.8%", text, StringComparison.Ordinal);
        Assert.Contains("0.40 fcfs", text, StringComparison.Ordinal);
        Assert.Contains("workload sharegpt", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", text, StringComparison.Ordinal); // no ANSI escapes off a terminal
    }

    [Theory]
    [InlineData(123.4, "123")]
    [InlineData(12.34, "12.3")]
    [InlineData(1.234, "1.23")]
    [InlineData(0.1234, "0.123")]
    public void Seconds_keep_about_three_significant_digits(double seconds, string expected)
        => Assert.Equal(expected, SummaryTable.FormatSeconds(seconds));

    [Fact]
    public void Renders_without_a_terminal()
    {
        var table = SummaryTable.Build(Summary.Aggregate([Runs.Make()]));

        Assert.Equal(12, table.Columns.Count);
        Assert.Single(table.Rows);
    }
}
