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
    public void Defaults_ListenOnLoopback8080_AndLeaveTheSidecarsSettingsAlone()
    {
        var (exitCode, _, _) = Run("scheduler", "--workers", "localhost:50051");

        Assert.Equal(0, exitCode);
        Assert.Equal("http://127.0.0.1:8080", _invocation!.Url);
        Assert.Equal(["Scheduler:Workers:0"], _invocation.Settings.Keys); // appsettings.json or the environment may set the rest
    }

    [Fact]
    public void Knob_options_become_settings_in_the_sidecars_spelling()
    {
        var (exitCode, _, stderr) = Run(
            "scheduler", "--workers", "w:1", "--laps-variant", "paper", "--laps-tolerance", "inf", "--laps-aging", "--laps-reserve-top", "on", "--mlfq-levels", "3");

        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, stderr);
        var settings = _invocation!.Settings;
        Assert.Equal("Paper", settings["Scheduler:Laps:Variant"]);
        Assert.Equal("Infinity", settings["Scheduler:Laps:StabilityTolerance"]);
        Assert.Equal("true", settings["Scheduler:Laps:Aging"]);
        Assert.Equal("true", settings["Scheduler:Laps:ReserveTopQueue"]);
        Assert.Equal("3", settings["Scheduler:Mlfq:Levels"]);
    }

    [Fact]
    public void ConfigFile_SetsWhatNoOptionGives_AndGivenOptionsOverrideIt()
    {
        var file = Path.Combine(Path.GetTempPath(), $"laps-scheduler-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{"Scheduler": {"Policy": "mlfq", "Batch": 16, "Laps": {"Queues": 6}, "Workers": ["w0:1"]}}""");
        try
        {
            var (exitCode, _, stderr) = Run("scheduler", "--config", file, "--batch", "4");

            Assert.Equal(0, exitCode);
            Assert.Equal(string.Empty, stderr);
            Assert.Equal(file, _invocation!.ConfigFile);
            Assert.False(_invocation.Settings.ContainsKey("Scheduler:Policy")); // the file's mlfq stays in force
            Assert.Equal("4", _invocation.Settings["Scheduler:Batch"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void WorkerTokenFile_BecomesTheSetting()
    {
        using var directory = new TempDirectory();
        var token = directory.File("token");
        File.WriteAllText(token, "s3cret\n");

        var (exitCode, _, stderr) = Run("scheduler", "--workers", "w:1", "--worker-token-file", token);

        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, stderr);
        Assert.Equal(token, _invocation!.Settings["Scheduler:WorkerTokenFile"]);
    }

    [Fact]
    public void KubernetesDiscovery_BecomesDiscoveryAndLeaseSettings()
    {
        var (exitCode, _, stderr) = Run(
            "scheduler", "--discovery", "kubernetes", "--worker-namespace", "team-a", "--worker-selector",
            "kubernetes.io/service-name=pool-workers", "--leader-elect", "--lease-name", "pool-scheduler");

        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, stderr);
        var settings = _invocation!.Settings;
        Assert.Equal("kubernetes", settings["Scheduler:Discovery:Mode"]);
        Assert.Equal("team-a", settings["Scheduler:Discovery:Namespace"]);
        Assert.Equal("kubernetes.io/service-name=pool-workers", settings["Scheduler:Discovery:Selector"]);
        Assert.False(settings.ContainsKey("Scheduler:Discovery:PortName")); // the sidecar's default, grpc
        Assert.Equal("true", settings["Scheduler:LeaderElection:Enabled"]);
        Assert.Equal("pool-scheduler", settings["Scheduler:LeaderElection:LeaseName"]);
        Assert.Equal("team-a", settings["Scheduler:LeaderElection:Namespace"]); // the workers' namespace by default
    }

    [Theory]
    [InlineData(new[] { "--discovery", "kubernetes", "--worker-namespace", "ns" }, "laps scheduler: --worker-selector: a value is required")]
    [InlineData(new[] { "--discovery", "dns", "--workers", "w:1" }, "laps scheduler: --discovery: unknown value 'dns'; expected static, kubernetes")]
    [InlineData(new[] { "--discovery", "kubernetes", "--worker-namespace", "ns", "--worker-selector", "a=b", "--workers", "w:1" }, "laps scheduler: --workers: a static worker list cannot be combined")]
    [InlineData(new[] { "--workers", "w:1", "--worker-namespace", "ns", "--leader-elect" }, "laps scheduler: --lease-name: a value is required")]
    [InlineData(new[] { "--workers", "w:1", "--config", "/nonexistent/laps.json" }, "laps scheduler: --config: '/nonexistent/laps.json' does not exist")]
    [InlineData(new[] { "--workers", "w:1", "--worker-token-file", "/nonexistent/token" }, "laps scheduler: --worker-token-file: '/nonexistent/token' does not exist")]
    public void BadDiscoveryOrConfig_OneLineNamingIt_ExitCode2(string[] args, string expected)
    {
        var (exitCode, _, stderr) = Run(["scheduler", .. args]);

        Assert.Equal(2, exitCode);
        Assert.StartsWith(expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--workers", "w:1", "--port", "x" }, "laps scheduler: --port: 'x' is not an integer")]
    [InlineData(new[] { "--workers", "w:1", "--port", "70000" }, "laps scheduler: --port: '70000' is out of range")]
    [InlineData(new[] { "--workers", "w:1", "--policy", "lottery" }, "laps scheduler: --policy: unknown policy 'lottery'")]
    [InlineData(new[] { "--workers", "nohost" }, "laps scheduler: --workers: 'nohost' is not a host:port address")]
    [InlineData(new[] { "--workers", "a:1,a:1" }, "laps scheduler: --workers: 'a:1' is listed twice")]
    [InlineData(new[] { "--port", "80" }, "laps scheduler: --workers: at least one worker address")]
    [InlineData(new[] { "--workers", "w:1", "--batch", "-2" }, "laps scheduler: --batch: '-2' must be >= 0")]
    [InlineData(new[] { "--workers", "w:1", "--max-queued", "0" }, "laps scheduler: --max-queued: '0' must be >= 1")]
    [InlineData(new[] { "--workers", "w:1", "--max-prompt-tokens", "-5" }, "laps scheduler: --max-prompt-tokens: '-5' must be >= 1")]
    [InlineData(new[] { "--workers", "w:1", "--laps-queues", "0" }, "laps scheduler: --laps-queues: '0' is out of range: LAPS queues must be in 1..64")]
    [InlineData(new[] { "--workers", "w:1", "--laps-posterior-capacity", "10" }, "laps scheduler: --laps-posterior-capacity: '10' is out of range")]
    [InlineData(new[] { "--workers", "w:1", "--laps-aging", "maybe" }, "laps scheduler: --laps-aging: 'maybe' is not on or off")]
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
