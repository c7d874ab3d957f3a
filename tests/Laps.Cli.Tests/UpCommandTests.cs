namespace Laps.Cli.Tests;

public sealed class UpCommandTests
{
    [Theory]
    [InlineData("--workers", "0", "--workers: '0' is out of range")]
    [InlineData("--policy", "fifo", "--policy: unknown policy 'fifo'")]
    [InlineData("--time-scale", "0", "--time-scale: '0' is out of range")]
    [InlineData("--workload", "no-such-profile", "no-such-profile")]
    [InlineData("--proposer", "medusa", "--proposer")]
    public void Bad_options_are_one_line_naming_the_value_and_start_nothing(string option, string value, string expected)
    {
        var (exitCode, stdout, stderr) = new Cli().Run("up", "--port", "0", option, value);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }
}
