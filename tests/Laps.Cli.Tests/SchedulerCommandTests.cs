using System.CommandLine;
using Laps.Cli.Commands;

namespace Laps.Cli.Tests;

public sealed class SchedulerCommandTests
{
    private SchedulerInvocation? _invocation;

    [Fact]
    public void Options_BecomeSchedulerSettings_AndTheUrl()
    {
        var (exitCode, _, stderr) = Run(
            "scheduler", "--port", "9000", "--host", "0.0.0.0", "--policy", "srpt", "--workers", "w0:50051,w1:50051",
            "--batch", "4", "--max-queued", "10", "--max-prompt-tokens", "2048", "--model", "llama");

        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, stderr);
        var settings = _invocation!.Settings;
        Assert.Equal("http://0.0.0.0:9000", _invocation.Url);
        Assert.Equal("srpt", settings["Scheduler:Policy"]);
        Assert.Equal("w0:50051", settings["Scheduler:Workers:0"]);
        Assert.Equal("w1:50051", settings["Scheduler:Workers:1"]);
        Assert.Equal("4", settings["Scheduler:Batch"]);
        Assert.Equal("10", settings["Scheduler:MaxQueued"]);
        Assert.Equal("2048", settings["Scheduler:MaxPromptTokens"]);
        Assert.Equal("llama", settings["Scheduler:Model"]);
    }

    [Fact]
    public void Defaults_ListenOnLoopback8080_WithLaps()
    {
        var (exitCode, _, _) = Run("scheduler", "--workers", "localhost:50051");

        Assert.Equal(0, exitCode);
        Assert.Equal("http://127.0.0.1:8080", _invocation!.Url);
        Assert.Equal("laps", _invocation.Settings["Scheduler:Policy"]);
    }

    [Theory]
    [InlineData(new[] { "--workers", "w:1", "--port", "x" }, "laps scheduler: --port: 'x' is not an integer")]
    [InlineData(new[] { "--workers", "w:1", "--port", "70000" }, "laps scheduler: --port: '70000' is out of range")]
    [InlineData(new[] { "--workers", "w:1", "--policy", "lottery" }, "laps scheduler: --policy: unknown policy 'lottery'")]
    [InlineData(new[] { "--workers", "nohost" }, "laps scheduler: --workers: 'nohost' is not a host:port address")]
    [InlineData(new[] { "--workers", "a:1,a:1" }, "laps scheduler: --workers: 'a:1' is listed twice")]
    [InlineData(new[] { "--port", "80" }, "laps scheduler: --workers: at least one worker address")]
    [InlineData(new[] { "--workers", "w:1", "--batch", "0" }, "laps scheduler: --batch: '0' must be >= 1")]
    [InlineData(new[] { "--workers", "w:1", "--max-queued", "0" }, "laps scheduler: --max-queued: '0' must be >= 1")]
    [InlineData(new[] { "--workers", "w:1", "--max-prompt-tokens", "-5" }, "laps scheduler: --max-prompt-tokens: '-5' must be >= 1")]
    [InlineData(new[] { "--workers", "w:1", "--model", " " }, "laps scheduler: --model: a model name is required")]
    [InlineData(new[] { "--workers", "w:1", "--host", "not a host" }, "laps scheduler: --host: 'not a host' is not an address")]
    [InlineData(new[] { "--workers", "w:1", "--bogus" }, "laps scheduler: Unrecognized command or argument '--bogus'")]
    public void BadOption_OneLineNamingIt_ExitCode2(string[] args, string expected)
    {
        var (exitCode, stdout, stderr) = Run(["scheduler", .. args]);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
        Assert.Null(_invocation);
    }

    private (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var command = new LapsCommand(schedulerRunner: (invocation, _, _) =>
        {
            _invocation = invocation;
            return Task.FromResult(0);
        });
        var exitCode = command.Invoke(args, new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exitCode, stdout.ToString(), stderr.ToString());
    }
}
