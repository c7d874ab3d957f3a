namespace Laps.Monitoring.Tests;

public sealed class PromQlTests
{
    private static readonly Dictionary<string, string> Values = new(StringComparer.Ordinal)
    {
        ["__rate_interval"] = "1m",
        ["namespace"] = ".*",
        ["pool"] = "chat",
    };

    [Theory]
    [InlineData("rate(x{namespace=~\"$namespace\"}[$__rate_interval])", "rate(x{namespace=~\".*\"}[1m])")]
    [InlineData("x{pool=~\"${pool}\"}", "x{pool=~\"chat\"}")]
    [InlineData("sum(up)", "sum(up)")]
    public void Template_variables_take_their_values(string expr, string expected)
        => Assert.Equal(expected, PromQl.Substitute(expr, Values));

    [Fact]
    public void A_template_variable_without_a_value_is_an_error()
        => Assert.Throws<ArgumentException>(() => PromQl.Substitute("x{worker=~\"$worker\"}", Values));

    [Theory]
    [InlineData("up{job=\"laps-scheduler\"} == 0", new[] { "up{job=\"laps-scheduler\"}" })]
    [InlineData("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 60", new[] { "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))" })]
    [InlineData("sum(a)\n  / sum(b)\n< 0.3\n", new[] { "sum(a)\n  / sum(b)" })]
    [InlineData("sum by (pool) (q) > 0\nunless\nsum by (pool) (rate(s[5m])) > 0", new[] { "sum by (pool) (q)", "sum by (pool) (rate(s[5m]))" })]
    [InlineData("a > bool 1e-3 or b", new[] { "a", "b" })]
    [InlineData("sum(x{reason=\"a or b\"}) and on (pool) y", new[] { "sum(x{reason=\"a or b\"})", "y" })]
    [InlineData("orphans + android", new[] { "orphans + android" })]
    public void An_alert_is_judged_on_its_operands_without_their_thresholds(string expr, string[] expected)
        => Assert.Equal(expected, PromQl.DataQueries(expr));
}
