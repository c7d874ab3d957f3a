using System.CommandLine;
using System.Globalization;
using System.Net;
using k8s.Exceptions;
using Laps.Operator.Hosting;

namespace Laps.Cli.Commands;

/// <summary>Serves until cancelled; returns the exit code.</summary>
internal delegate Task<int> OperatorRunner(OperatorOptions options, TextWriter stderr, CancellationToken cancellationToken);

/// <summary>
/// <c>laps operator</c>: reconciles InferencePools (docs/inferencepool.md). In a pod it uses the in-cluster config and its
/// identity from <c>POD_NAME</c>/<c>POD_NAMESPACE</c>; elsewhere a kubeconfig.
/// </summary>
internal sealed class OperatorCommand : Command
{
    public const string CommandName = "operator";
    private readonly OperatorRunner _runner;
    private readonly Func<string, string?> _environment;

    public OperatorCommand(OperatorRunner? runner = null, Func<string, string?>? environment = null)
        : base(CommandName, "Run the Kubernetes operator: InferencePool custom resources become worker and scheduler pods.")
    {
        _runner = runner ?? RunAsync;
        _environment = environment ?? Environment.GetEnvironmentVariable;
        foreach (var option in new Option[] { Host, Port, Namespace, LeaderElect, LeaseName, LeaseNamespace, DefaultImage, Kubeconfig })
        {
            Options.Add(option);
        }

        Subcommands.Add(new OperatorRenderCommand());
        SetAction((parseResult, cancellationToken) => _runner(Bind(parseResult), parseResult.InvocationConfiguration.Error, cancellationToken));
    }

    internal Option<string> Host { get; } = OptionValues.Scalar("--host", "Address for /healthz, /readyz and /metrics (an IP, 'localhost', or '*')", (_, t) => t, () => "*");

    internal Option<int> Port { get; } = OptionValues.Scalar("--port", "Port for /healthz, /readyz and /metrics", OptionValues.Integer, () => 8081);

    internal Option<string> Namespace { get; } = OptionValues.Scalar("--namespace", "Namespace to watch (empty: all namespaces)", (_, t) => t, () => "");

    // A string option: a bool one would be a flag and not take "false".
    internal Option<string> LeaderElect { get; } = OptionValues.Scalar(
        "--leader-elect", "Elect one active instance on a Lease", (o, t) => Boolean(o, t) ? "true" : "false", () => "true", "true|false");

    internal Option<string> LeaseName { get; } = OptionValues.Scalar("--lease-name", "Name of the Lease", (_, t) => t, () => "laps-operator");

    internal Option<string> LeaseNamespace { get; } = OptionValues.Scalar(
        "--lease-namespace", "Namespace of the Lease (default $POD_NAMESPACE, else 'default')", (_, t) => t, () => "");

    internal Option<string> DefaultImage { get; } = OptionValues.Scalar(
        "--default-image", "Image for sim workers and schedulers whose pool names none", (_, t) => t, () => Laps.Operator.OperatorSettings.DefaultImageName);

    internal Option<string?> Kubeconfig { get; } = OptionValues.Scalar<string?>(
        "--kubeconfig", "Kubeconfig file (default: in-cluster config in a pod, else ~/.kube/config)", (_, t) => t, () => null);

    public OperatorOptions Bind(ParseResult parseResult)
    {
        var environment = _environment;
        var port = parseResult.GetValue(Port);
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"--port: '{port.ToString(CultureInfo.InvariantCulture)}' is out of range: must be in 0..65535");
        }

        var host = (parseResult.GetValue(Host) ?? "*").Trim();
        if (host.Length == 0 || (host != "*" && host != "localhost" && !IPAddress.TryParse(host, out _)))
        {
            throw new UsageException($"--host: '{host}' is not an address");
        }

        var leaseName = parseResult.GetValue(LeaseName) ?? "";
        if (leaseName.Length == 0)
        {
            throw new UsageException("--lease-name: a name is required");
        }

        var image = parseResult.GetValue(DefaultImage) ?? "";
        if (image.Length == 0)
        {
            throw new UsageException("--default-image: an image is required");
        }

        var leaseNamespace = parseResult.GetValue(LeaseNamespace) is { Length: > 0 } ns ? ns : environment("POD_NAMESPACE") is { Length: > 0 } podNs ? podNs : "default";
        var urlHost = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        return new OperatorOptions
        {
            Url = string.Create(CultureInfo.InvariantCulture, $"http://{urlHost}:{port}"),
            Namespace = parseResult.GetValue(Namespace) ?? "",
            LeaderElect = parseResult.GetValue(LeaderElect) != "false",
            LeaseName = leaseName,
            LeaseNamespace = leaseNamespace,
            DefaultImage = image,
            Kubeconfig = parseResult.GetValue(Kubeconfig),
            Identity = environment("POD_NAME") is { Length: > 0 } pod ? pod : Environment.MachineName,
        };
    }

    private static async Task<int> RunAsync(OperatorOptions options, TextWriter stderr, CancellationToken cancellationToken)
    {
        Microsoft.AspNetCore.Builder.WebApplication app;
        try
        {
            app = OperatorHost.Build(options);
        }
        catch (Exception e) when (e is KubeConfigException or FileNotFoundException)
        {
            throw new UsageException($"--kubeconfig: {e.Message}", e);
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            catch (IOException e)
            {
                throw new UsageException($"--port: cannot listen on {options.Url}: {e.Message}", e);
            }
        }
    }

    private static bool Boolean(string option, string token) => token.ToUpperInvariant() switch
    {
        "TRUE" => true,
        "FALSE" => false,
        _ => throw new UsageException($"{option}: '{token}' is not true or false"),
    };
}
