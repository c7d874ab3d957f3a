using System.Globalization;
using Laps.Simulation.Experiments;
using ScottPlot;

namespace Laps.Cli.Reports;

/// <summary>
/// PNG plots per batch size: mean latency against load (one line per policy, 95% intervals across seeds), and
/// the per-request latency CDF at the highest load (seeds pooled, log x axis).
/// </summary>
internal static class Plots
{
    private const int Width = 960;
    private const int Height = 600;

    // A CDF of a few hundred thousand points draws no better than one of a couple of thousand quantiles.
    private const int MaxCdfPoints = 2000;

    public static string LatencyVersusLoadFileName(int batch) => string.Create(CultureInfo.InvariantCulture, $"latency_vs_load_b{batch}.png");

    public static string LatencyCdfFileName(int batch) => string.Create(CultureInfo.InvariantCulture, $"latency_cdf_b{batch}.png");

    /// <summary>
    /// Writes both plots for every batch size into <paramref name="directory"/> (which must exist); returns their paths.
    /// Plots an earlier run left there (other batch sizes) are removed first, so every plot beside results.json is of it.
    /// </summary>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<RunResult> results)
    {
        foreach (var stale in Directory.EnumerateFiles(directory, "latency_vs_load_b*.png").Concat(Directory.EnumerateFiles(directory, "latency_cdf_b*.png")))
        {
            File.Delete(stale);
        }

        var palette = new ScottPlot.Palettes.Category10();
        var colors = results.Select(r => r.Policy).Distinct(StringComparer.Ordinal)
            .Select((policy, index) => (policy, color: palette.GetColor(index)))
            .ToDictionary(p => p.policy, p => p.color, StringComparer.Ordinal);

        var written = new List<string>();
        foreach (var batch in results.Select(r => r.Batch).Distinct().Order())
        {
            var runs = results.Where(r => r.Batch == batch).ToList();
            var loadPath = Path.Combine(directory, LatencyVersusLoadFileName(batch));
            WriteLatencyVersusLoad(loadPath, batch, runs, colors);
            written.Add(loadPath);

            var cdfPath = Path.Combine(directory, LatencyCdfFileName(batch));
            WriteLatencyCdf(cdfPath, batch, runs, colors);
            written.Add(cdfPath);
        }

        return written;
    }

    private static void WriteLatencyVersusLoad(string path, int batch, List<RunResult> runs, Dictionary<string, Color> colors)
    {
        using var plot = new Plot();
        foreach (var policy in runs.Select(r => r.Policy).Distinct(StringComparer.Ordinal))
        {
            var points = runs.Where(r => r.Policy == policy)
                .GroupBy(r => r.Load)
                .OrderBy(g => g.Key)
                .Select(g => (load: g.Key, latency: Statistics.MeanWithConfidence95([.. g.Select(r => r.MeanLatencySeconds)])))
                .ToArray();
            var xs = points.Select(p => p.load).ToArray();
            var ys = points.Select(p => p.latency.Mean).ToArray();

            var line = plot.Add.Scatter(xs, ys, colors[policy]);
            line.LegendText = policy;
            line.LineWidth = 2;
            line.MarkerSize = 6;

            if (points.Any(p => double.IsFinite(p.latency.HalfWidth)))
            {
                var errors = points.Select(p => double.IsFinite(p.latency.HalfWidth) ? p.latency.HalfWidth : 0).ToArray();
                var bars = plot.Add.ErrorBar(xs, ys, errors);
                bars.Color = colors[policy];
            }
        }

        var loads = runs.Select(r => r.Load).Distinct().Order().ToArray();
        plot.Axes.Bottom.SetTicks(loads, [.. loads.Select(l => l.ToString("0.###", CultureInfo.InvariantCulture))]);
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"Mean latency vs load (batch {batch})"));
        plot.XLabel("offered load (fraction of FCFS saturation throughput)");
        plot.YLabel("mean latency (s)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, Width, Height);
    }

    private static void WriteLatencyCdf(string path, int batch, List<RunResult> runs, Dictionary<string, Color> colors)
    {
        var highest = runs.Max(r => r.Load);
        using var plot = new Plot();
        foreach (var policy in runs.Select(r => r.Policy).Distinct(StringComparer.Ordinal))
        {
            var latencies = runs.Where(r => r.Policy == policy && r.Load == highest)
                .SelectMany(r => r.Latencies)
                .Where(l => l > 0 && double.IsFinite(l))
                .Order()
                .ToArray();
            if (latencies.Length == 0)
            {
                continue; // results read back from JSON carry no per-request latencies
            }

            var (xs, ys) = Cdf(latencies);
            var line = plot.Add.ScatterLine(xs, ys, colors[policy]);
            line.LegendText = policy;
            line.LineWidth = 2;
        }

        // Log axis: plot log10(latency) and label the ticks with the latency itself.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = exponent => Math.Pow(10, exponent).ToString("0.###", CultureInfo.InvariantCulture),
        };
        plot.Axes.SetLimitsY(0, 1.02);
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"Request latency CDF at load {highest:0.###} (batch {batch}, seeds pooled)"));
        plot.XLabel("latency (s, log scale)");
        plot.YLabel("fraction of requests");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>log10 of the sorted latencies against their empirical CDF, thinned to at most <see cref="MaxCdfPoints"/> quantiles.</summary>
    internal static (double[] LogLatencies, double[] Fractions) Cdf(double[] sorted)
    {
        var count = Math.Min(sorted.Length, MaxCdfPoints);
        var xs = new double[count];
        var ys = new double[count];
        for (var i = 0; i < count; i++)
        {
            // Rank i of count maps onto the sorted array so the first and last samples are always kept.
            var rank = count == 1 ? sorted.Length - 1 : (int)Math.Round((double)i * (sorted.Length - 1) / (count - 1));
            xs[i] = Math.Log10(sorted[rank]);
            ys[i] = (rank + 1.0) / sorted.Length;
        }

        return (xs, ys);
    }
}
