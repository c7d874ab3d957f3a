using System.Globalization;
using Laps.Simulation.Experiments;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Laps.Cli.Reports;

/// <summary>The table <c>laps sim</c> prints: one row per (batch, load, policy), seeds aggregated.</summary>
internal static class SummaryTable
{
    /// <summary>A console over <paramref name="writer"/>: the terminal's abilities on a terminal, plain and wide elsewhere.</summary>
    public static IAnsiConsole ConsoleFor(TextWriter writer)
    {
        var terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = 200; // a file or a pipe has no width; do not wrap the table at 80 columns
        }

        return console;
    }

    public static Table Build(IReadOnlyList<SummaryRow> rows, string? title = null)
    {
        var table = new Table().Border(TableBorder.Simple);
        if (title is not null)
        {
            table.Title(new TableTitle(Markup.Escape(title)));
        }

        // Short headers and short cells: the table should fit a 90-column terminal.
        table.AddColumn(new TableColumn("B").RightAligned());
        table.AddColumn(new TableColumn("load").RightAligned());
        table.AddColumn(new TableColumn("policy").NoWrap());
        table.AddColumn(new TableColumn("mean s").RightAligned());
        table.AddColumn(new TableColumn("95% CI").RightAligned());
        table.AddColumn(new TableColumn("p50 s").RightAligned());
        table.AddColumn(new TableColumn("p99 s").RightAligned());
        table.AddColumn(new TableColumn("TTFT s").RightAligned());
        table.AddColumn(new TableColumn("preempt").RightAligned());
        table.AddColumn(new TableColumn("MAPE").RightAligned());
        table.AddColumn(new TableColumn("×FCFS").RightAligned());
        table.AddColumn(new TableColumn("×best"));
        foreach (var column in table.Columns)
        {
            column.Padding = new Padding(0, 0, 1, 0); // the border already puts a space between columns
        }

        foreach (var row in rows)
        {
            table.AddRow(new IRenderable[]
            {
                new Text(row.Batch.ToString(CultureInfo.InvariantCulture)),
                new Text(row.Load.ToString("0.###", CultureInfo.InvariantCulture)),
                new Text(row.Policy),
                new Text(FormatSeconds(row.MeanLatency.Mean)),
                new Text(double.IsNaN(row.MeanLatency.HalfWidth) ? "-" : "±" + FormatSeconds(row.MeanLatency.HalfWidth)),
                new Text(FormatSeconds(row.P50Latency)),
                new Text(FormatSeconds(row.P99Latency)),
                new Text(FormatSeconds(row.MeanTtft)),
                new Text(row.PreemptionsPerRequest.ToString("0.00", CultureInfo.InvariantCulture)),
                new Text(row.EstimateMape is { } mape ? FormatPercent(mape) : "-"),
                new Text(FormatRatio(row.VersusFcfs)),
                new Text(row.VersusBestBaseline is { } best ? $"{FormatRatio(best)} {row.BestBaseline}" : "-"),
            });
        }

        return table;
    }

    /// <summary>Renders the table, titled with what the runs share (workload, proposer, arrivals, predictor, seeds).</summary>
    public static void Write(IAnsiConsole console, IReadOnlyList<RunResult> results)
    {
        console.Write(Build(Summary.Aggregate(results), Title(results)));
    }

    internal static string? Title(IReadOnlyList<RunResult> results)
    {
        if (results.Count == 0)
        {
            return null;
        }

        static string Distinct(IEnumerable<string> values) => string.Join("+", values.Distinct(StringComparer.Ordinal));
        var seeds = results.Select(r => r.Seed).Distinct().Count();
        return $"workload {Distinct(results.Select(r => r.Workload))} · proposer {Distinct(results.Select(r => r.Proposer))} · "
               + $"arrivals {Distinct(results.Select(r => r.Arrivals))} · predictor {Distinct(results.Select(r => r.Predictor))} · "
               + $"{seeds.ToString(CultureInfo.InvariantCulture)} seed{(seeds == 1 ? string.Empty : "s")}";
    }

    internal static string FormatSeconds(double seconds) => seconds switch
    {
        double.NaN => "-",
        >= 100 => seconds.ToString("0", CultureInfo.InvariantCulture),
        >= 10 => seconds.ToString("0.0", CultureInfo.InvariantCulture),
        >= 1 => seconds.ToString("0.00", CultureInfo.InvariantCulture),
        _ => seconds.ToString("0.000", CultureInfo.InvariantCulture),
    };

    // estimate_mape is a fraction (0.0684 is 6.84%).
    internal static string FormatPercent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    internal static string FormatRatio(double? ratio)
        => ratio is { } r && double.IsFinite(r) ? r.ToString("0.00", CultureInfo.InvariantCulture) : "-";
}
