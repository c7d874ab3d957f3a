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

/// <summary>What <c>laps scheduler</c> runs: configuration settings (section <c>Scheduler</c>) and the URL to listen on.</summary>
internal sealed record SchedulerInvocation(IReadOnlyDictionary<string, string?> Settings, string Url);

/// <summary>Serves until cancelled; returns the exit code.</summary>
internal delegate Task<int> SchedulerRunner(SchedulerInvocation invocation, TextWriter stderr, CancellationToken cancellationToken);

/// <summary>
/// <c>laps scheduler</c>: the sidecar on Kestrel (product.md §2). Options become configuration that overrides
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
    };

    private static readonly SchedulerOptions Defaults = new();
    private readonly SchedulerRunner _runner;

    public SchedulerCommand(SchedulerRunner? runner = null)
        : base(CommandName, "Run the scheduler sidecar: the OpenAI-compatible API in front of speculative-decoding workers.")
    {
        _runner = runner ?? RunAsync;
        foreach (var option in new Option[] { Port, Host, Policy, Workers, Batch, MaxQueued, MaxPromptTokens, Model })
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

        var workers = parseResult.GetValue(Workers) ?? [];
        if (workers.Count == 0)
        {
            throw new UsageException("--workers: at least one worker address (host:port) is required");
        }

        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            [Key(nameof(SchedulerOptions.Policy))] = parseResult.GetValue(Policy),
            [Key(nameof(SchedulerOptions.Batch))] = Invariant(parseResult.GetValue(Batch)),
            [Key(nameof(SchedulerOptions.MaxQueued))] = Invariant(parseResult.GetValue(MaxQueued)),
            [Key(nameof(SchedulerOptions.MaxPromptTokens))] = Invariant(parseResult.GetValue(MaxPromptTokens)),
            [Key(nameof(SchedulerOptions.Model))] = parseResult.GetValue(Model),
        };
        for (var i = 0; i < workers.Count; i++)
        {
            settings[Key(string.Create(CultureInfo.InvariantCulture, $"{nameof(SchedulerOptions.Workers)}:{i}"))] = workers[i];
        }

        Check(settings);
        var urlHost = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        return new SchedulerInvocation(settings, string.Create(CultureInfo.InvariantCulture, $"http://{urlHost}:{port}"));
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

    private static void Check(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new SchedulerOptions();
        configuration.GetSection(SchedulerOptions.SectionName).Bind(options);
        var result = new SchedulerOptionsValidator().Validate(null, options);
        if (!result.Failed)
        {
            return;
        }

        // "Batch: '0' must be >= 1" → "--batch: '0' must be >= 1".
        var failure = result.Failures.First();
        var colon = failure.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && OptionNames.TryGetValue(failure[..colon], out var option))
        {
            failure = option + failure[colon..];
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
