using System.CommandLine;
using System.Globalization;
using System.Net;
using Laps.Scheduler;
using Laps.Scheduler.Api;
using Laps.Scheduling.Policies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Laps.Cli.Commands;

/// <summary>
/// What <c>laps scheduler</c> runs: configuration settings (section <c>Scheduler</c>) over an optional JSON file in
/// appsettings shape, and the URL to listen on.
/// </summary>
internal sealed record SchedulerInvocation(IReadOnlyDictionary<string, string?> Settings, string Url, string? ConfigFile = null);

/// <summary>Serves until cancelled; returns the exit code.</summary>
internal delegate Task<int> SchedulerRunner(SchedulerInvocation invocation, TextWriter stderr, CancellationToken cancellationToken);

/// <summary>
/// <c>laps scheduler</c>: the sidecar on Kestrel (docs/scheduler-sidecar.md). Options become configuration that overrides
/// appsettings.json and environment variables (<c>Scheduler__Laps__Queues=6</c> sets a policy knob), so the
/// container can be configured either way.
/// </summary>
internal sealed class SchedulerCommand : Command
{
    public const string CommandName = "scheduler";

    // The validator names settings; these are the options that set them.
    private static readonly Dictionary<string, string> OptionNames = new(StringComparer.Ordinal)
    {
        [nameof(SchedulerOptions.Policy)] = "--policy",
        [nameof(SchedulerOptions.Workers)] = "--workers",
        [nameof(SchedulerOptions.Batch)] = "--batch",
        [nameof(SchedulerOptions.MaxQueued)] = "--max-queued",
        [nameof(SchedulerOptions.MaxPromptTokens)] = "--max-prompt-tokens",
        [nameof(SchedulerOptions.Model)] = "--model",
        ["Discovery:Mode"] = "--discovery",
        ["Discovery:Namespace"] = "--worker-namespace",
        ["Discovery:Selector"] = "--worker-selector",
        ["LeaderElection:LeaseName"] = "--lease-name",
        ["LeaderElection:Namespace"] = "--lease-namespace",
    };

    private static readonly SchedulerOptions Defaults = new();
    private readonly SchedulerRunner _runner;

    public SchedulerCommand(SchedulerRunner? runner = null)
        : base(CommandName, "Run the scheduler sidecar: the OpenAI-compatible API in front of speculative-decoding workers.")
    {
        _runner = runner ?? RunAsync;
        foreach (var option in new Option[]
                 {
                     Port, Host, Policy, Workers, Batch, MaxQueued, MaxPromptTokens, Model, Config, Discovery, WorkerNamespace,
                     WorkerSelector, WorkerPortName, LeaderElect, LeaseName, LeaseNamespace,
                 })
        {
            Options.Add(option);
        }

        SetAction((parseResult, cancellationToken) => ExecuteAsync(parseResult, cancellationToken));
    }

    internal Option<int> Port { get; } = OptionValues.Scalar("--port", "Port to listen on (0: any free port)", OptionValues.Integer, () => 8080);

    internal Option<string> Host { get; } = OptionValues.Scalar("--host", "Address to listen on (an IP, 'localhost', or '*' for all)", (_, t) => t, () => "127.0.0.1");

    internal Option<string> Policy { get; } = OptionValues.Scalar(
        "--policy", $"Scheduling policy, one of {string.Join(", ", PolicyCatalog.Names)}", PolicyName, () => Defaults.Policy, "name");

    internal Option<IReadOnlyList<string>> Workers { get; } = OptionValues.ListOption(
        "--workers", "Worker addresses, comma-separated", WorkerAddressValue, () => [], "host:port[,host:port...]");

    internal Option<int> Batch { get; } = OptionValues.Scalar(
        "--batch", $"Sequences per step on each worker (default {Defaults.Batch})", OptionValues.Integer, () => Defaults.Batch);

    internal Option<int> MaxQueued { get; } = OptionValues.Scalar(
        "--max-queued", $"Requests that may wait for a batch slot before new ones get 429 (default {Defaults.MaxQueued})", OptionValues.Integer, () => Defaults.MaxQueued);

    internal Option<int> MaxPromptTokens { get; } = OptionValues.Scalar(
        "--max-prompt-tokens", $"Longest prompt accepted, in tokens (default {Defaults.MaxPromptTokens})", OptionValues.Integer, () => Defaults.MaxPromptTokens);

    internal Option<string> Model { get; } = OptionValues.Scalar("--model", "The model name served", (_, t) => t, () => Defaults.Model);

    internal Option<string?> Config { get; } = new("--config")
    {
        Description = "JSON settings in appsettings shape ({\"Scheduler\": {...}}, e.g. policy knobs); options given here override it",
        HelpName = "file.json",
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
        var port = parseResult.GetValue(Port);
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"--port: '{port.ToString(CultureInfo.InvariantCulture)}' is out of range: must be in 0..65535");
        }

        var host = (parseResult.GetValue(Host) ?? "127.0.0.1").Trim();
        if (host.Length == 0 || (host != "*" && host != "localhost" && !IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) == UriHostNameType.Unknown))
        {
            throw new UsageException($"--host: '{host}' is not an address");
        }

        var configFile = parseResult.GetValue(Config);
        if (configFile is not null && !File.Exists(configFile))
        {
            throw new UsageException($"--config: '{configFile}' does not exist");
        }

        // With a settings file, an option overrides it only when given; without one, defaults are spelled out.
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal);
        void Put(Option option, string setting, string? value)
        {
            if (value is not null && (configFile is null || parseResult.GetResult(option) is { Implicit: false }))
            {
                settings[Key(setting)] = value;
            }
        }

        Put(Policy, nameof(SchedulerOptions.Policy), parseResult.GetValue(Policy));
        Put(Batch, nameof(SchedulerOptions.Batch), Invariant(parseResult.GetValue(Batch)));
        Put(MaxQueued, nameof(SchedulerOptions.MaxQueued), Invariant(parseResult.GetValue(MaxQueued)));
        Put(MaxPromptTokens, nameof(SchedulerOptions.MaxPromptTokens), Invariant(parseResult.GetValue(MaxPromptTokens)));
        Put(Model, nameof(SchedulerOptions.Model), parseResult.GetValue(Model));
        var workers = parseResult.GetValue(Workers) ?? [];
        for (var i = 0; i < workers.Count; i++)
        {
            settings[Key(string.Create(CultureInfo.InvariantCulture, $"{nameof(SchedulerOptions.Workers)}:{i}"))] = workers[i];
        }

        var podNamespace = Environment.GetEnvironmentVariable("POD_NAMESPACE");
        var workerNamespace = parseResult.GetValue(WorkerNamespace) ?? podNamespace;
        Put(Discovery, "Discovery:Mode", parseResult.GetValue(Discovery));
        Put(WorkerNamespace, "Discovery:Namespace", workerNamespace);
        Put(WorkerSelector, "Discovery:Selector", parseResult.GetValue(WorkerSelector));
        Put(WorkerPortName, "Discovery:PortName", parseResult.GetValue(WorkerPortName));
        if (parseResult.GetValue(LeaderElect))
        {
            settings[Key("LeaderElection:Enabled")] = "true";
            Put(LeaseName, "LeaderElection:LeaseName", parseResult.GetValue(LeaseName));
            Put(LeaseNamespace, "LeaderElection:Namespace", parseResult.GetValue(LeaseNamespace) ?? workerNamespace);
        }

        Check(settings, configFile);
        var urlHost = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        return new SchedulerInvocation(settings, string.Create(CultureInfo.InvariantCulture, $"http://{urlHost}:{port}"), configFile);
    }

    private async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stderr = parseResult.InvocationConfiguration.Error;
        try
        {
            return await _runner(Bind(parseResult), stderr, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException usage)
        {
            await stderr.WriteLineAsync($"laps {CommandName}: {LapsCommand.OneLine(usage.Message)}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
    }

    /// <summary>The real server: Kestrel, the sidecar, until cancelled (Ctrl+C, SIGTERM) and drained.</summary>
    /// <summary>The sidecar's web application for these settings (not started).</summary>
    internal static WebApplication BuildApp(SchedulerInvocation invocation)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "laps" });
        if (invocation.ConfigFile is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(invocation.ConfigFile), optional: false, reloadOnChange: false);
        }

        builder.Configuration.AddInMemoryCollection(invocation.Settings);
        builder.WebHost.UseUrls(invocation.Url);
        builder.AddLapsScheduler();
        var app = builder.Build();
        app.MapLapsScheduler();
        return app;
    }

    private static async Task<int> RunAsync(SchedulerInvocation invocation, TextWriter stderr, CancellationToken cancellationToken)
    {
        await using var app = BuildApp(invocation);
        try
        {
            await Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (OptionsValidationException e)
        {
            // Settings from appsettings.json or the environment that the options above did not override.
            await stderr.WriteLineAsync($"laps {CommandName}: {LapsCommand.OneLine(string.Join("; ", e.Failures))}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (IOException e)
        {
            // Kestrel could not bind (address in use, no permission).
            await stderr.WriteLineAsync($"laps {CommandName}: --port: cannot listen on {invocation.Url}: {LapsCommand.OneLine(e.Message)}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
    }

    private static void Check(Dictionary<string, string?> settings, string? configFile)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }

        var options = new SchedulerOptions();
        try
        {
            builder.AddInMemoryCollection(settings).Build().GetSection(SchedulerOptions.SectionName).Bind(options);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or InvalidOperationException)
        {
            throw new UsageException($"--config: '{configFile}' is not valid settings JSON: {e.Message}");
        }

        var result = new SchedulerOptionsValidator().Validate(null, options);
        if (!result.Failed)
        {
            return;
        }

        // "Batch: '0' must be >= 1" → "--batch: '0' must be >= 1".
        var failure = result.Failures.First();
        var setting = OptionNames.Keys.Where(k => failure.StartsWith(k + ":", StringComparison.Ordinal)).MaxBy(k => k.Length);
        if (setting is not null)
        {
            failure = OptionNames[setting] + failure[setting.Length..];
        }

        throw new UsageException(failure);
    }

    private static string PolicyName(string option, string token)
        => PolicyCatalog.IsKnown(token)
            ? token
            : throw new UsageException($"{option}: unknown policy '{token}'; known: {string.Join(", ", PolicyCatalog.Names)}");

    private static string WorkerAddressValue(string option, string token)
        => WorkerAddress.TryParse(token, out _) ? token : throw new UsageException($"{option}: '{token}' is not a host:port address");

    internal static string Key(string setting) => $"{SchedulerOptions.SectionName}:{setting}";

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
