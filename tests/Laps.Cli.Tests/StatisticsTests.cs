using Laps.Cli.Reports;

namespace Laps.Cli.Tests;

public sealed class StatisticsTests
{
    [Fact]
    public void Confidence_interval_of_one_to_five()
    {
        // mean 3, s = sqrt(2.5), t(0.975; 4) = 2.776445: half-width = 2.776445 · 1.581139 / sqrt(5) = 1.963243.
        var interval = Statistics.MeanWithConfidence95([1.0, 2, 3, 4, 5]);

        Assert.Equal(3, interval.Mean, 12);
        Assert.Equal(1.963243, interval.HalfWidth, 5);
        Assert.Equal(5, interval.Count);
        Assert.Equal(1.036757, interval.Lower, 5);
    }

    [Fact]
    public void Confidence_interval_of_two_samples_uses_twelve_point_seven()
    {
        // s = sqrt(2), t(0.975; 1) = 12.706205: half-width = 12.706205 · sqrt(2) / sqrt(2).
        var interval = Statistics.MeanWithConfidence95([10.0, 12]);

        Assert.Equal(11, interval.Mean, 12);
        Assert.Equal(12.706205, interval.HalfWidth, 5);
    }

    [Fact]
    public void One_sample_has_no_interval()
    {
        var interval = Statistics.MeanWithConfidence95([4.0]);

        Assert.Equal(4, interval.Mean);
        Assert.True(double.IsNaN(interval.HalfWidth));
    }

    [Fact]
    public void Identical_samples_have_a_zero_width_interval()
        => Assert.Equal(0, Statistics.MeanWithConfidence95([2.0, 2, 2]).HalfWidth);

    [Theory]
    [InlineData(1, 12.706205)]
    [InlineData(2, 4.302653)]
    [InlineData(9, 2.262157)]
    [InlineData(30, 2.042272)]
    [InlineData(40, 2.021075)]
    [InlineData(60, 2.000298)]
    [InlineData(120, 1.979930)]
    [InlineData(100000, 1.959988)]
    public void Student_t_quantiles_match_the_tables(int degreesOfFreedom, double expected)
        => Assert.Equal(expected, Statistics.StudentT975(degreesOfFreedom), 5);

    [Fact]
    public void Sample_standard_deviation_divides_by_n_minus_one()
        => Assert.Equal(Math.Sqrt(32.0 / 7), Statistics.StandardDeviation([2.0, 4, 4, 4, 5, 5, 7, 9]), 12);
}
