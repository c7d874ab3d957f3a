using System.CommandLine;
using Laps.Cli.Commands;
using Laps.Operator.Hosting;

namespace Laps.Cli.Tests;

public sealed class OperatorCommandTests
{
    private OperatorOptions? _options;

    [Fact]
    public void Defaults_serve_on_8081_elect_a_leader_on_laps_operator_in_the_pods_namespace_and_watch_everything()
    {
        var (exitCode, stderr) = Run(new() { ["POD_NAMESPACE"] = "laps-system", ["POD_NAME"] = "laps-operator-0" }, "operator");

        Assert.Equal((0, ""), (exitCode, stderr));
        Assert.Equal("http://*:8081", _options!.Url);
        Assert.Equal(("", true, "laps-operator", "laps-system", "laps-operator-0"),
            (_options.Namespace, _options.LeaderElect, _options.LeaseName, _options.LeaseNamespace, _options.Identity));
        Assert.Null(_options.Kubeconfig);
    }

    [Fact]
    public void Options_override_every_default()
    {
        var (exitCode, _) = Run(new(),
            "operator", "--host", "127.0.0.1", "--port", "9090", "--namespace", "serving", "--leader-elect", "false",
            "--lease-name", "ops", "--lease-namespace", "kube-system", "--default-image", "registry/laps:1", "--kubeconfig", "/tmp/kc");

        Assert.Equal(0, exitCode);
        Assert.Equal(
            ("http://127.0.0.1:9090", "serving", false, "ops", "kube-system", "registry/laps:1", "/tmp/kc"),
            (_options!.Url, _options.Namespace, _options.LeaderElect, _options.LeaseName, _options.LeaseNamespace, _options.DefaultImage, _options.Kubeconfig));
    }

    [Fact]
    public void Without_POD_NAMESPACE_the_lease_lives_in_default()
    {
        Run(new(), "operator");

        Assert.Equal("default", _options!.LeaseNamespace);
    }

    [Theory]
    [InlineData("--port", "70000", "laps operator: --port: '70000' is out of range")]
    [InlineData("--host", "not an ip", "laps operator: --host: 'not an ip' is not an address")]
    [InlineData("--leader-elect", "maybe", "laps operator: --leader-elect: 'maybe' is not true or false")]
    [InlineData("--lease-name", "", "laps operator: --lease-name: a name is required")]
    public void Bad_options_are_one_line_on_stderr_and_exit_code_2(string option, string value, string message)
    {
        var (exitCode, stderr) = Run(new(), "operator", option, value);

        Assert.Equal(2, exitCode);
        Assert.StartsWith(message, stderr, StringComparison.Ordinal);
        Assert.Null(_options);
    }

    [Fact]
    public void The_laps_root_command_has_operator()
    {
        Assert.Contains(new LapsCommand().Subcommands, c => c.Name == OperatorCommand.CommandName);
    }

    private (int ExitCode, string Stderr) Run(Dictionary<string, string> environment, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var command = new LapsCommand(
            operatorRunner: (options, _, _) =>
            {
                _options = options;
                return Task.FromResult(0);
            },
            environment: name => environment.GetValueOrDefault(name));
        var exitCode = command.Invoke(args, new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exitCode, stderr.ToString());
    }
}
