using System.CommandLine;
using System.Globalization;
using Laps.Scheduler;
using Laps.Scheduler.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using WorkerToken = Laps.Worker.V1.WorkerToken;

namespace Laps.Cli.Commands;

/// <summary>Serves until cancelled; returns the exit code.</summary>
internal delegate Task<int> SchedulerRunner(SchedulerInvocation invocation, TextWriter stderr, CancellationToken cancellationToken);

/// <summary>
/// <c>laps scheduler</c>: the sidecar on Kestrel (docs/scheduler-sidecar.md). Options given become configuration that
/// overrides appsettings.json and environment variables (<c>Scheduler__Laps__Queues=6</c> sets a policy knob), so the
/// container can be configured either way.
/// </summary>
internal sealed class SchedulerCommand : Command
{
    public const string CommandName = "scheduler";

    // The validator names settings; these are the options of this command that set them (SidecarOptions adds its own).
    private static readonly Dictionary<string, string> OptionNames = new(StringComparer.Ordinal)
    {
        [nameof(SchedulerOptions.Workers)] = "--workers",
        [nameof(SchedulerOptions.WorkerTokenFile)] = "--worker-token-file",
        ["Discovery:Mode"] = "--discovery",
        ["Discovery:Namespace"] = "--worker-namespace",
        ["Discovery:Selector"] = "--worker-selector",
        ["LeaderElection:LeaseName"] = "--lease-name",
        ["LeaderElection:Namespace"] = "--lease-namespace",
    };

    private readonly SchedulerRunner _runner;

    public SchedulerCommand(SchedulerRunner? runner = null)
        : base(CommandName, "Run the scheduler sidecar: the OpenAI-compatible API in front of speculative-decoding workers.")
    {
        _runner = runner ?? RunAsync;
        Sidecar.AddTo(this);
        foreach (var option in new Option[] { Workers, WorkerTokenFile, Discovery, WorkerNamespace, WorkerSelector, WorkerPortName, LeaderElect, LeaseName, LeaseNamespace })
        {
            Options.Add(option);
        }

        SetAction((parseResult, cancellationToken) => _runner(Bind(parseResult), parseResult.InvocationConfiguration.Error, cancellationToken));
    }

    /// <summary>The options shared with <c>laps up</c>.</summary>
    internal SidecarOptions Sidecar { get; } = new();

    internal Option<IReadOnlyList<string>> Workers { get; } = OptionValues.ListOption(
        "--workers", "Worker addresses, comma-separated", WorkerAddressValue, () => [], "host:port[,host:port...]");

    internal Option<string?> WorkerTokenFile { get; } = new("--worker-token-file")
    {
        Description = "A file holding the pool's worker token, sent with every call to the workers (read again when it changes)",
        HelpName = "path",
    };

    internal Option<string> Discovery { get; } = OptionValues.ChoiceOption(
        "--discovery", "How workers are found: static (--workers) or kubernetes (EndpointSlices)",
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["static"] = DiscoveryOptions.Static, ["kubernetes"] = DiscoveryOptions.Kubernetes },
        DiscoveryOptions.Static);

    internal Option<string?> WorkerNamespace { get; } = new("--worker-namespace")
    {
        Description = "Kubernetes discovery: the workers' namespace (default: $POD_NAMESPACE)", HelpName = "namespace",
    };

    internal Option<string?> WorkerSelector { get; } = new("--worker-selector")
    {
        Description = "Kubernetes discovery: label selector of the workers' EndpointSlices, e.g. kubernetes.io/service-name=pool-workers",
        HelpName = "selector",
    };

    internal Option<string> WorkerPortName { get; } = OptionValues.Scalar(
        "--worker-port-name", "Kubernetes discovery: the EndpointSlice port serving the worker protocol", (_, t) => t, () => new DiscoveryOptions().PortName, "name");

    internal Option<bool> LeaderElect { get; } = new("--leader-elect")
    {
        Description = "Several replicas: only the holder of a Lease schedules; the others stand by (not ready)",
    };

    internal Option<string?> LeaseName { get; } = new("--lease-name") { Description = "The Lease for --leader-elect", HelpName = "name" };

    internal Option<string?> LeaseNamespace { get; } = new("--lease-namespace")
    {
        Description = "Namespace of the Lease (default: the worker namespace, else $POD_NAMESPACE)", HelpName = "namespace",
    };

    /// <summary>Options → settings, checked by the sidecar's own validator; <see cref="UsageException"/> names the option.</summary>
    public SchedulerInvocation Bind(ParseResult parseResult)
    {
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal);
        void Put(Option option, string setting, string? value)
        {
            if (value is not null && OptionValues.Given(parseResult, option))
            {
                settings[SidecarOptions.Key(setting)] = value;
            }
        }

        var workers = parseResult.GetValue(Workers) ?? [];
        for (var i = 0; i < workers.Count; i++)
        {
            settings[SidecarOptions.Key(string.Create(CultureInfo.InvariantCulture, $"{nameof(SchedulerOptions.Workers)}:{i}"))] = workers[i];
        }

        var workerNamespace = parseResult.GetValue(WorkerNamespace) ?? Environment.GetEnvironmentVariable("POD_NAMESPACE");
        if (workerNamespace is not null)
        {
            settings[SidecarOptions.Key("Discovery:Namespace")] = workerNamespace;
        }

        Put(WorkerTokenFile, nameof(SchedulerOptions.WorkerTokenFile), parseResult.GetValue(WorkerTokenFile));
        Put(Discovery, "Discovery:Mode", parseResult.GetValue(Discovery));
        Put(WorkerSelector, "Discovery:Selector", parseResult.GetValue(WorkerSelector));
        Put(WorkerPortName, "Discovery:PortName", parseResult.GetValue(WorkerPortName));
        if (parseResult.GetValue(LeaderElect))
        {
            settings[SidecarOptions.Key("LeaderElection:Enabled")] = "true";
            Put(LeaseName, "LeaderElection:LeaseName", parseResult.GetValue(LeaseName));
            if ((parseResult.GetValue(LeaseNamespace) ?? workerNamespace) is { } leaseNamespace)
            {
                settings[SidecarOptions.Key("LeaderElection:Namespace")] = leaseNamespace;
            }
        }

        return Sidecar.Bind(parseResult, settings, OptionNames).Invocation;
    }

    /// <summary>The sidecar's web application for these settings (not started), sending <paramref name="workerToken"/> if given.</summary>
    internal static WebApplication BuildApp(SchedulerInvocation invocation, WorkerToken? workerToken = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "laps" });
        invocation.AddTo(builder.Configuration);
        builder.WebHost.UseUrls(invocation.Url);
        if (workerToken is not null)
        {
            builder.Services.AddSingleton(workerToken);
        }

        builder.AddLapsScheduler();
        var app = builder.Build();
        app.MapLapsScheduler();
        return app;
    }

    /// <summary>The real server: Kestrel, the sidecar, until cancelled (Ctrl+C, SIGTERM) and drained.</summary>
    private static async Task<int> RunAsync(SchedulerInvocation invocation, TextWriter stderr, CancellationToken cancellationToken)
    {
        await using var app = BuildApp(invocation);
        try
        {
            await Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (IOException e)
        {
            // Kestrel could not bind (address in use, no permission).
            throw new UsageException($"--port: cannot listen on {invocation.Url}: {e.Message}", e);
        }
    }

    private static string WorkerAddressValue(string option, string token)
        => WorkerAddress.TryParse(token, out _) ? token : throw new UsageException($"{option}: '{token}' is not a host:port address");
}
