using System.Globalization;
using Laps.Simulation.Experiments;
using Spectre.Console;

namespace Laps.Cli.Reports;

/// <summary>
/// What <c>laps sim --tenants N</c> adds below the summary: per (batch, load, policy, fair share), each tenant's share
/// of the requests, mean and p99 latency, and the mean over all requests, seeds pooled (the means weighted by requests).
/// </summary>
internal static class TenantTable
{
    public static Table Build(IReadOnlyList<RunResult> results)
    {
        var table = new Table().Border(TableBorder.Simple).Title(new TableTitle("latency by tenant (seeds pooled)"));
        foreach (var header in new[] { "B", "load", "policy", "fair", "tenant", "requests", "mean s", "p99 s", "all mean s" })
        {
            table.AddColumn(new TableColumn(header) { Padding = new Padding(0, 0, 1, 0) });
        }

        foreach (var row in Rows(results))
        {
            table.AddRow(
                row.Batch.ToString(CultureInfo.InvariantCulture),
                row.Load.ToString("0.###", CultureInfo.InvariantCulture),
                Markup.Escape(row.Policy),
                row.FairShare ? "on" : "off",
                Markup.Escape(row.Tenant),
                row.Requests.ToString(CultureInfo.InvariantCulture),
                SummaryTable.FormatSeconds(row.MeanLatency),
                SummaryTable.FormatSeconds(row.P99Latency),
                SummaryTable.FormatSeconds(row.AllMeanLatency));
        }

        return table;
    }

    /// <summary>One row per (batch, load, policy, fair share, tenant); p99 is the mean of the seeds' p99s.</summary>
    public static IReadOnlyList<TenantRow> Rows(IReadOnlyList<RunResult> results)
        => [.. results
            .Where(r => r.Tenants is not null)
            .GroupBy(r => (r.Batch, r.Load, r.Policy, FairShare: r.FairShare ?? true))
            .SelectMany(g =>
            {
                var all = g.Sum(r => r.MeanLatencySeconds * r.Requests) / g.Sum(r => r.Requests);
                return g.SelectMany(r => r.Tenants!)
                    .GroupBy(t => t.Tenant, StringComparer.Ordinal)
                    .OrderBy(t => t.Key.Length).ThenBy(t => t.Key, StringComparer.Ordinal)
                    .Select(t => new TenantRow(
                        g.Key.Batch, g.Key.Load, g.Key.Policy, g.Key.FairShare, t.Key, t.Sum(x => x.Requests),
                        t.Sum(x => x.MeanLatencySeconds * x.Requests) / t.Sum(x => x.Requests), t.Average(x => x.P99LatencySeconds), all));
            })];
}

internal sealed record TenantRow(
    int Batch, double Load, string Policy, bool FairShare, string Tenant, int Requests, double MeanLatency, double P99Latency, double AllMeanLatency);
