using System.Globalization;
using Laps.Scheduling.Policies;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler;

/// <summary>The sidecar's configuration (section <c>Scheduler</c>), validated when the host starts.</summary>
public sealed class SchedulerOptions
{
    public const string SectionName = "Scheduler";

    /// <summary>A policy name from <see cref="PolicyCatalog.Names"/>.</summary>
    public string Policy { get; set; } = LapsPolicy.PolicyName;

    /// <summary>Worker addresses, <c>host:port</c> (or an <c>http://</c> URI).</summary>
    public IList<string> Workers { get; } = [];

    /// <summary>Sequences per step on each worker (capped by the worker's own max_batch).</summary>
    public int Batch { get; set; } = 8;

    /// <summary>Requests that may wait for a batch slot, all workers together; beyond it a request gets 429.</summary>
    public int MaxQueued { get; set; } = 256;

    public int MaxPromptTokens { get; set; } = 8192;

    /// <summary>The largest <c>max_tokens</c> a request may ask for.</summary>
    public int MaxCompletionTokens { get; set; } = 4096;

    /// <summary><c>max_tokens</c> when a request gives none.</summary>
    public int DefaultMaxTokens { get; set; } = 256;

    /// <summary>The one model name this sidecar serves (requests may omit it).</summary>
    public string Model { get; set; } = "laps-sim";

    /// <summary>The online length predictor's answer before it has learned from any finished request (tokens, before the <c>max_tokens</c> cap).</summary>
    public int PriorLengthTokens { get; set; } = 256;

    /// <summary>Seconds a client is told to wait after a 429.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>How long shutdown waits for admitted requests to finish.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Deadline of one Step call.</summary>
    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First wait after a failed worker call; it doubles per consecutive failure, up to 5 s.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Consecutive failed Step calls after which the requests in that batch fail.</summary>
    public int MaxStepFailures { get; set; } = 3;

    /// <summary>
    /// Reference seconds of one step for the policies' estimates; 0 derives it from the worker's step-time profile
    /// at <see cref="Batch"/> sequences of <see cref="ReferenceContextTokens"/> context each.
    /// </summary>
    public double StepSeconds { get; set; }

    public int ReferenceContextTokens { get; set; } = 512;

    /// <summary>Acceptance assumed before a request has drafted anything.</summary>
    public double PriorAcceptance { get; set; } = 0.6;

    public LapsOptions Laps { get; set; } = new();
    public MlfqOptions Mlfq { get; set; } = new();

    internal PolicySettings PolicySettings => new() { Laps = Laps, Mlfq = Mlfq };
}

/// <summary>Checks <see cref="SchedulerOptions"/>; every message names the setting and the value it rejects.</summary>
public sealed class SchedulerOptionsValidator : IValidateOptions<SchedulerOptions>
{
    public ValidateOptionsResult Validate(string? name, SchedulerOptions options)
    {
        var failures = new List<string>();
        if (!PolicyCatalog.IsKnown(options.Policy))
        {
            failures.Add($"Policy: unknown policy '{options.Policy}'; known: {string.Join(", ", PolicyCatalog.Names)}");
        }

        if (options.Workers.Count == 0)
        {
            failures.Add("Workers: at least one worker address (host:port) is required");
        }

        foreach (var worker in options.Workers)
        {
            if (!WorkerAddress.TryParse(worker, out _))
            {
                failures.Add($"Workers: '{worker}' is not a host:port address");
            }
        }

        if (options.Workers.Distinct(StringComparer.OrdinalIgnoreCase).Count() != options.Workers.Count)
        {
            failures.Add("Workers: an address is listed twice");
        }

        AtLeast(failures, "Batch", options.Batch, 1);
        AtLeast(failures, "MaxQueued", options.MaxQueued, 1);
        AtLeast(failures, "MaxPromptTokens", options.MaxPromptTokens, 1);
        AtLeast(failures, "MaxCompletionTokens", options.MaxCompletionTokens, 1);
        AtLeast(failures, "PriorLengthTokens", options.PriorLengthTokens, 1);
        AtLeast(failures, "RetryAfterSeconds", options.RetryAfterSeconds, 1);
        AtLeast(failures, "MaxStepFailures", options.MaxStepFailures, 1);
        AtLeast(failures, "ReferenceContextTokens", options.ReferenceContextTokens, 0);
        if (options.DefaultMaxTokens < 1 || options.DefaultMaxTokens > options.MaxCompletionTokens)
        {
            failures.Add($"DefaultMaxTokens: '{Invariant(options.DefaultMaxTokens)}' must be in 1..MaxCompletionTokens ({Invariant(options.MaxCompletionTokens)})");
        }

        if (string.IsNullOrWhiteSpace(options.Model))
        {
            failures.Add("Model: a model name is required");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            failures.Add($"DrainTimeout: '{options.DrainTimeout}' must not be negative");
        }

        if (options.RetryBackoff <= TimeSpan.Zero)
        {
            failures.Add($"RetryBackoff: '{options.RetryBackoff}' must be positive");
        }

        if (options.StepTimeout <= TimeSpan.Zero)
        {
            failures.Add($"StepTimeout: '{options.StepTimeout}' must be positive");
        }

        if (!(options.StepSeconds >= 0) || double.IsInfinity(options.StepSeconds))
        {
            failures.Add($"StepSeconds: '{Invariant(options.StepSeconds)}' must be a finite number >= 0 (0: from the worker's profile)");
        }

        if (options.PriorAcceptance is < 0 or > 1 || double.IsNaN(options.PriorAcceptance))
        {
            failures.Add($"PriorAcceptance: '{Invariant(options.PriorAcceptance)}' must be in [0, 1]");
        }

        Knobs(failures, "Laps", options.Laps.Validate);
        Knobs(failures, "Mlfq", options.Mlfq.Validate);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void AtLeast(List<string> failures, string setting, int value, int minimum)
    {
        if (value < minimum)
        {
            failures.Add($"{setting}: '{Invariant(value)}' must be >= {Invariant(minimum)}");
        }
    }

    // The policies' own checks name the knob (ParamName) and the value (ActualValue).
    private static void Knobs(List<string> failures, string section, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            var message = e.Message.Split('\n')[0].Replace($" (Parameter '{e.ParamName}')", string.Empty, StringComparison.Ordinal).Trim();
            failures.Add($"{section}:{e.ParamName}: '{Convert.ToString(e.ActualValue, CultureInfo.InvariantCulture)}' is out of range: {message}");
        }
        catch (ArgumentException e)
        {
            failures.Add($"{section}:{e.ParamName}: {e.Message.Split('\n')[0]}");
        }
    }

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}

/// <summary>A worker's address as configured: <c>host:port</c> or an absolute http(s) URI.</summary>
public static class WorkerAddress
{
    public static bool TryParse(string? text, out Uri uri)
    {
        uri = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var candidate = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            return false;
        }

        // host:port needs its port; a URI may rely on its scheme's default.
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                || port is < 1 or > 65535 || parsed.AbsolutePath != "/")
            {
                return false;
            }
        }

        uri = parsed;
        return true;
    }
}
