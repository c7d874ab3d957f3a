using System.CommandLine;
using System.Globalization;
using System.Net;
using Laps.Scheduler;
using Laps.Scheduling.Policies;
using Microsoft.Extensions.Configuration;

namespace Laps.Cli.Commands;

/// <summary>
/// What the sidecar runs with: settings of the section <c>Scheduler</c> over an optional JSON file in appsettings
/// shape, over <see cref="Defaults"/>, and the URL to listen on.
/// </summary>
internal sealed record SchedulerInvocation(
    IReadOnlyDictionary<string, string?> Settings, string Url, string? ConfigFile = null, IReadOnlyDictionary<string, string?>? Defaults = null)
{
    /// <summary>Adds the layers in order: <see cref="Defaults"/>, then the file, then <see cref="Settings"/> (the last given wins).</summary>
    public IConfigurationBuilder AddTo(IConfigurationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddInMemoryCollection(Defaults ?? new Dictionary<string, string?>());
        if (ConfigFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(ConfigFile), optional: false, reloadOnChange: false);
        }

        return builder.AddInMemoryCollection(Settings);
    }
}

/// <summary>
/// The options <c>laps up</c> and <c>laps scheduler</c> share: where the API listens, a settings file, the model and
/// prompt limit, and every knob of <see cref="SchedulerKnobs"/>. An option given becomes a setting of the section
/// <c>Scheduler</c> that overrides the file (and appsettings.json and the environment); one not given leaves them be.
/// </summary>
internal sealed class SidecarOptions
{
    private static readonly SchedulerOptions Defaults = new();

    public SidecarOptions()
    {
        Knobs = SchedulerKnobs.All.ToDictionary(k => k, OptionValues.KnobOption);
    }

    public Option<int> Port { get; } = OptionValues.Scalar("--port", "Port of the OpenAI API (0: any free port)", OptionValues.Integer, () => 8080);

    public Option<string> Host { get; } = OptionValues.Scalar(
        "--host", "Address of the OpenAI API (an IP, 'localhost', or '*' for all)", (_, t) => t, () => "127.0.0.1");

    public Option<string?> Config { get; } = new("--config")
    {
        Description = "JSON settings in appsettings shape ({\"Scheduler\": {...}}); the options given here override it",
        HelpName = "file.json",
    };

    public Option<string> Model { get; } = OptionValues.Scalar("--model", "The model name served", (_, t) => t, () => Defaults.Model);

    public Option<int> MaxPromptTokens { get; } = OptionValues.Scalar(
        "--max-prompt-tokens", "Longest prompt accepted, in tokens", OptionValues.Integer, () => Defaults.MaxPromptTokens);

    public Option<string?> ApiKeyFile { get; } = new("--api-key-file")
    {
        Description = "The clients' API keys, one per line with an optional tenant name; every /v1/ request then needs 'Authorization: Bearer <key>' (read again when the file changes; default: no keys)",
        HelpName = "path",
    };

    public Option<string> FairShare { get; } = FairShareOption();

    /// <summary>The <c>--fair-share</c> option of <c>laps up</c>, <c>laps scheduler</c> and <c>laps sim</c>: on → <c>true</c>.</summary>
    public static Option<string> FairShareOption() => OptionValues.ChoiceOption(
        "--fair-share", "Tenants share the queue and each worker's batch slots; off: one queue limit and the policy's order alone",
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["on"] = "true", ["off"] = "false" }, "on");

    /// <summary>One option per knob of the table.</summary>
    public IReadOnlyDictionary<SchedulerKnob, Option<string>> Knobs { get; }

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in new Option[] { Port, Host, Config, Model, MaxPromptTokens, ApiKeyFile, FairShare }.Concat(Knobs.Values))
        {
            command.Options.Add(option);
        }
    }

    /// <summary>
    /// Options → what the sidecar runs with, checked by its own binding and validator before anything starts; a
    /// <see cref="UsageException"/> names the option (or <c>--config</c>) at fault. <paramref name="settings"/> are the
    /// command's own settings and <paramref name="optionNames"/> the options that set them; <paramref name="checkOnly"/>
    /// completes what is checked with what the command supplies later (e.g. worker addresses).
    /// </summary>
    public (SchedulerInvocation Invocation, SchedulerOptions Options) Bind(
        ParseResult parseResult, IReadOnlyDictionary<string, string?> settings, IReadOnlyDictionary<string, string> optionNames,
        IReadOnlyDictionary<string, string?>? defaults = null, IReadOnlyDictionary<string, string?>? checkOnly = null)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
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

        var all = new Dictionary<string, string?>(settings, StringComparer.Ordinal);
        if (OptionValues.Given(parseResult, Model))
        {
            all[Key(nameof(SchedulerOptions.Model))] = parseResult.GetValue(Model);
        }

        if (OptionValues.Given(parseResult, MaxPromptTokens))
        {
            all[Key(nameof(SchedulerOptions.MaxPromptTokens))] = parseResult.GetValue(MaxPromptTokens).ToString(CultureInfo.InvariantCulture);
        }

        if (OptionValues.Given(parseResult, ApiKeyFile))
        {
            all[Key(nameof(SchedulerOptions.ApiKeyFile))] = parseResult.GetValue(ApiKeyFile);
        }

        if (OptionValues.Given(parseResult, FairShare))
        {
            all[Key(nameof(SchedulerOptions.FairShare))] = parseResult.GetValue(FairShare) == "on" ? "true" : "false";
        }

        foreach (var (knob, option) in Knobs)
        {
            if (OptionValues.GivenKnob(parseResult, option) is { } word)
            {
                all[Key(knob.Key)] = knob.ToConfig(word);
            }
        }

        var urlHost = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        var invocation = new SchedulerInvocation(all, string.Create(CultureInfo.InvariantCulture, $"http://{urlHost}:{port}"), configFile, defaults);
        var names = new Dictionary<string, string>(optionNames, StringComparer.Ordinal)
        {
            [nameof(SchedulerOptions.Model)] = Model.Name,
            [nameof(SchedulerOptions.MaxPromptTokens)] = MaxPromptTokens.Name,
            [nameof(SchedulerOptions.ApiKeyFile)] = ApiKeyFile.Name,
            [nameof(SchedulerOptions.FairShare)] = FairShare.Name,
        };
        foreach (var knob in Knobs.Keys)
        {
            names[knob.Key] = knob.Option;
        }

        return (invocation, Check(invocation, names, checkOnly));
    }

    /// <summary>The configuration key of a setting of the section <c>Scheduler</c>.</summary>
    public static string Key(string setting) => $"{SchedulerOptions.SectionName}:{setting}";

    // The sidecar's own binding and validator, so that a bad setting stops the command before anything starts.
    private static SchedulerOptions Check(SchedulerInvocation invocation, Dictionary<string, string> optionNames, IReadOnlyDictionary<string, string?>? checkOnly)
    {
        var options = new SchedulerOptions();
        try
        {
            var configuration = invocation.AddTo(new ConfigurationBuilder()).AddInMemoryCollection(checkOnly ?? new Dictionary<string, string?>()).Build();
            SchedulerOptions.Bind(configuration.GetSection(SchedulerOptions.SectionName), options);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or InvalidOperationException)
        {
            throw new UsageException($"--config: '{invocation.ConfigFile}' is not valid settings JSON: {e.Message}", e);
        }

        var result = new SchedulerOptionsValidator().Validate(null, options);
        if (!result.Failed)
        {
            return options;
        }

        // "Laps:Queues: '0' is out of range: ..." → "--laps-queues: '0' is out of range: ...".
        var failure = result.Failures.First();
        var setting = optionNames.Keys.Where(k => failure.StartsWith(k + ":", StringComparison.Ordinal)).MaxBy(k => k.Length);
        throw new UsageException(setting is null ? failure : optionNames[setting] + failure[setting.Length..]);
    }
}
