namespace Laps.Cli.Tests;

public sealed class EmulateCommandTests
{
    [Theory]
    [InlineData(new[] { "emulate", "tgi" }, "laps emulate: Argument 'tgi' not recognized")]
    [InlineData(new[] { "emulate", "vllm", "--port", "0", "--batch", "0" }, "laps emulate: --batch: '0' is out of range")]
    [InlineData(new[] { "emulate", "sglang", "--port", "0", "--k", "0" }, "laps emulate: --k: '0' is out of range")]
    [InlineData(new[] { "emulate", "vllm", "--port", "0", "--load-seconds", "-1" }, "laps emulate: --load-seconds: '-1' is out of range")]
    [InlineData(new[] { "worker", "--port", "0", "--engine", "tgi" }, "laps worker: --engine: unknown value 'tgi'")]
    [InlineData(new[] { "worker", "--port", "0", "--engine-url", "http://127.0.0.1:8000" }, "laps worker: --engine-url: the sim engine has no URL")]
    [InlineData(new[] { "worker", "--port", "0", "--engine", "vllm", "--engine-url", "ftp://x" }, "laps worker: --engine-url: 'ftp://x' is not an http(s) URL")]
    [InlineData(new[] { "worker", "--port", "0", "--engine-metrics-port", "9400" }, "laps worker: --engine-metrics-port: the sim engine has no engine metrics to serve; give --engine vllm or --engine sglang")]
    [InlineData(new[] { "worker", "--port", "0", "--engine", "sglang", "--engine-metrics-port", "70000" }, "laps worker: --engine-metrics-port: '70000' is out of range")]
    [InlineData(new[] { "worker", "--port", "0", "--engine", "vllm", "--engine-metrics-port", "metrics" }, "laps worker: --engine-metrics-port: 'metrics' is not an integer")]
    [InlineData(new[] { "worker", "--port", "50099", "--engine", "vllm", "--engine-metrics-port", "50099" }, "laps worker: --engine-metrics-port: '50099' is the worker's --port")]
    public void A_bad_engine_option_is_one_line_naming_it_and_exit_code_2(string[] args, string expected)
    {
        var (exitCode, stdout, stderr) = new Cli().Run(args);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith(expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }
}
