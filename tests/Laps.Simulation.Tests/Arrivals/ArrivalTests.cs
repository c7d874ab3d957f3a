using Laps.Simulation.Arrivals;

namespace Laps.Simulation.Tests.Arrivals;

public class ArrivalTests
{
    private const string AzureCsv =
        """
        TIMESTAMP,ContextTokens,GeneratedTokens
        2023-11-16 18:15:46.0000000,374,44
        2023-11-16 18:15:47.0000000,396,109
        2023-11-16 18:15:48.0000000,879,52
        2023-11-16 18:15:49.0000000,91,11
        2023-11-16 18:15:52.0000000,1024,70
        """;

    private static (double Mean, double Cv) GapStats(double[] times)
    {
        var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToArray();
        var mean = gaps.Average();
        var sd = Math.Sqrt(gaps.Average(g => (g - mean) * (g - mean)));
        return (mean, sd / mean);
    }

    [Fact]
    public void Poisson_gaps_average_one_over_the_rate_and_times_start_at_zero()
    {
        var times = PoissonArrivals.Instance.Generate(20000, 4.0, new Random(1));
        var (mean, cv) = GapStats(times);

        Assert.Equal(0, times[0]);
        Assert.InRange(mean, 0.25 * 0.97, 0.25 * 1.03);
        Assert.InRange(cv, 0.95, 1.05);
        Assert.True(times.Zip(times.Skip(1)).All(p => p.Second >= p.First));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(4.0)]
    public void Gamma_arrivals_have_the_requested_coefficient_of_variation_and_rate(double cv)
    {
        var times = new GammaArrivals(cv).Generate(100000, 10.0, new Random(2));
        var (mean, measuredCv) = GapStats(times);

        Assert.InRange(mean, 0.1 * 0.93, 0.1 * 1.07);
        Assert.InRange(measuredCv, cv * 0.88, cv * 1.12);
        Assert.True(times.Zip(times.Skip(1)).All(p => p.Second >= p.First));
    }

    [Fact]
    public void Arrival_processes_are_deterministic_for_a_seed()
    {
        Assert.Equal(new GammaArrivals(2).Generate(50, 3, new Random(5)), new GammaArrivals(2).Generate(50, 3, new Random(5)));
        Assert.Equal(PoissonArrivals.Instance.Generate(50, 3, new Random(5)), PoissonArrivals.Instance.Generate(50, 3, new Random(5)));
    }

    [Fact]
    public void An_azure_trace_reads_its_gaps_counts_and_cv()
    {
        var trace = TraceArrivals.Read(new StringReader(AzureCsv), "azure.csv");

        Assert.Equal(5, trace.Count);
        Assert.Equal([1.0, 1.0, 1.0, 3.0], trace.Gaps.Select(g => Math.Round(g, 9)));
        Assert.Equal(1.5, trace.MeanGapSeconds, 9);
        Assert.Equal(Math.Sqrt(0.75) / 1.5, trace.InterArrivalCv, 9);
        Assert.Equal([374, 396, 879, 91, 1024], trace.ContextTokens!);
        Assert.Equal(44, trace.GeneratedTokens![0]);
    }

    [Fact]
    public void Rescaled_azure_gaps_hit_the_target_rate_over_a_full_cycle()
    {
        var trace = TraceArrivals.Read(new StringReader(AzureCsv), "azure.csv");

        var times = trace.Generate(trace.Count, 8.0, new Random(3));

        // Count − 1 gaps, each used once whatever the starting offset: the span is exactly (Count − 1) / rate.
        Assert.Equal(0, times[0]);
        Assert.Equal((trace.Count - 1) / 8.0, times[^1], 9);
    }

    [Fact]
    public void Azure_gaps_cycle_when_more_arrivals_are_needed_than_rows()
    {
        var trace = TraceArrivals.Read(new StringReader(AzureCsv), "azure.csv");

        var times = trace.Generate(401, 2.0, new Random(4));
        var (mean, _) = GapStats(times);

        Assert.Equal(401, times.Length);
        Assert.Equal(0.5, mean, 9);
        Assert.True(times.Zip(times.Skip(1)).All(p => p.Second >= p.First));
    }

    [Theory]
    [InlineData("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\nyesterday,2,2\n", 3, "invalid timestamp 'yesterday'")]
    [InlineData("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\n2023-11-16 18:15:47.0,2\n", 3, "expected 3 comma-separated fields, found 2")]
    [InlineData("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\n2023-11-16 18:15:45.0,2,2\n", 3, "earlier than the previous row")]
    [InlineData("TIMESTAMP,ContextTokens,GeneratedTokens\n\n2023-11-16 18:15:46.0,1,1\n2023-11-16 18:15:47.0,x,2\n", 4, "ContextTokens 'x' is not a non-negative integer")]
    [InlineData("Time,Tokens\n1,2\n", 1, "header has no TIMESTAMP column")]
    public void Csv_errors_name_the_file_and_line(string csv, int line, string expected)
    {
        using var dir = new Tests.TempDirectory();
        var path = dir.Write("arrivals.csv", csv);

        var ex = Assert.Throws<ArrivalFormatException>(() => TraceArrivals.Load(path));

        Assert.StartsWith(path + ", line " + line + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_csv_with_a_single_row_cannot_be_rescaled()
    {
        var ex = Assert.Throws<ArrivalFormatException>(() => TraceArrivals.Read(new StringReader("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\n"), "one.csv"));

        Assert.Contains("one.csv: an arrival trace needs at least 2 rows", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Specs_parse_into_their_processes()
    {
        using var dir = new Tests.TempDirectory();
        var csv = dir.Write("trace.csv", AzureCsv);

        Assert.IsType<PoissonArrivals>(ArrivalSpec.Parse("Poisson").CreateProcess());
        var gamma = Assert.IsType<GammaArrivals>(ArrivalSpec.Parse("gamma:2.5").CreateProcess());
        Assert.Equal(2.5, gamma.Cv);
        var trace = Assert.IsType<TraceArrivals>(ArrivalSpec.Parse(csv).CreateProcess());
        Assert.Equal(5, trace.Count);
        Assert.Same(trace, ArrivalSpec.Parse(csv).CreateProcess());
    }

    [Theory]
    [InlineData("gamma:0", "must be > 0")]
    [InlineData("gamma:-2", "must be > 0")]
    [InlineData("gamma:abc", "'abc' is not a number")]
    [InlineData("gamma", "gamma needs a coefficient of variation")]
    [InlineData("uniform", "unknown arrival spec 'uniform'")]
    [InlineData("", "arrival spec is empty")]
    [InlineData("/no/such/dir/arrivals.csv", "/no/such/dir/arrivals.csv: arrival trace file not found")]
    public void Bad_arrival_specs_say_what_is_wrong(string spec, string expected)
    {
        var ex = Assert.Throws<ArrivalFormatException>(() => ArrivalSpec.Parse(spec));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Generating_needs_a_positive_rate()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PoissonArrivals.Instance.Generate(3, 0, new Random(1)));
        Assert.Empty(new GammaArrivals(2).Generate(0, 1, new Random(1)));
    }
}
