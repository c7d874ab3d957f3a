using System.Globalization;
using Laps.Scheduling.Policies;
using Laps.Worker.V1;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler;

/// <summary>The sidecar's configuration (section <c>Scheduler</c>), validated when the host starts.</summary>
public sealed class SchedulerOptions
{
    public const string SectionName = "Scheduler";

    /// <summary>A policy that can run live, from <see cref="PolicyCatalog.LiveNames"/>.</summary>
    public string Policy { get; set; } = SchedulerKnobs.Policy.Default;

    /// <summary>Worker addresses, <c>host:port</c> (or an <c>http://</c> URI), when <see cref="Discovery"/> is static.</summary>
    public IList<string> Workers { get; } = [];

    /// <summary>How workers are found: the static <see cref="Workers"/> list, or Kubernetes EndpointSlices.</summary>
    public DiscoveryOptions Discovery { get; set; } = new();

    /// <summary>Several sidecar replicas: only the holder of a Lease schedules (active-passive).</summary>
    public LeaderElectionOptions LeaderElection { get; set; } = new();

    /// <summary>
    /// This scheduler's name as workers know it: a worker drops the sequences of a process of this name when a newer
    /// one (a restart, the next leader) calls it. Schedulers that deliberately share workers need distinct names.
    /// </summary>
    public string Name { get; set; } = "laps";

    /// <summary>
    /// A file holding the pool's worker token (a mounted Secret's key), sent with every call to the workers and read
    /// again when it changes; null: calls carry no token (workers started without one accept them).
    /// </summary>
    public string? WorkerTokenFile { get; set; }

    /// <summary>
    /// A file of the clients' API keys, one per line with an optional tenant name (a mounted Secret's key), read again
    /// when it changes: every <c>/v1/</c> request then needs <c>Authorization: Bearer &lt;key&gt;</c> and belongs to the
    /// key's tenant. Null: no keys (the tenant comes from the <c>X-Laps-Tenant</c> header, else <c>default</c>).
    /// </summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>Tenants share the queue and each worker's batch slots (<see cref="Laps.Scheduling.FairShare"/>); off: one queue bound and the policy's order alone.</summary>
    public bool FairShare { get; set; } = true;

    /// <summary>Sequences per step on each worker (capped by the worker's own max_batch).</summary>
    public int Batch { get; set; } = SchedulerKnobs.DefaultBatch;

    /// <summary>Requests that may wait for a batch slot, all workers together; beyond it a request gets 429.</summary>
    public int MaxQueued { get; set; } = SchedulerKnobs.DefaultMaxQueued;

    public int MaxPromptTokens { get; set; } = 8192;

    /// <summary>The largest request body accepted, in bytes; a larger one gets 413.</summary>
    public int MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

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

    /// <summary>
    /// The longest deadline of one Step call. A worker's deadline follows its own recent step time (20 times it), at
    /// least <see cref="MinStepTimeout"/>; before its first step it is this.
    /// </summary>
    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The shortest deadline of one Step call, and the deadline of Describe probes and Release calls.</summary>
    public TimeSpan MinStepTimeout { get; set; } = TimeSpan.FromSeconds(2);

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

    /// <summary>SJF and SRPT: the LTR-style starvation guard (off by default).</summary>
    public StarvationGuard? StarvationGuard { get; set; }

    /// <summary>The policy knobs, as <see cref="PolicyCatalog.Create"/> takes them.</summary>
    public PolicySettings PolicySettings => new() { Laps = Laps, Mlfq = Mlfq, PredictedLengthGuard = StarvationGuard };

    /// <summary>
    /// Fills <paramref name="options"/> from the section <c>Scheduler</c>, as the sidecar does at start and as
    /// <c>laps sim</c> does with its knobs. Two meanings the plain binder would miss: <c>Laps:Variant</c> <c>Paper</c>
    /// is the paper's whole reading (<see cref="LapsOptions.Paper"/>), with the knobs given beside it overriding it;
    /// and a starvation guard (<c>Laps:Aging</c>, <c>Mlfq:Starvation</c>, <c>StarvationGuard</c>) is switched with
    /// <c>true</c> or <c>false</c>, keeping its defaults (its fields may still be given one by one).
    /// </summary>
    public static void Bind(IConfiguration section, SchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        section.Bind(options);
        if (options.Laps.Variant == LapsVariant.Paper)
        {
            options.Laps = LapsOptions.Paper with { };
            section.GetSection(nameof(Laps)).Bind(options.Laps);
        }

        options.Laps = options.Laps with { Aging = Guard(section.GetSection("Laps:Aging"), options.Laps.Aging) };
        options.Mlfq = options.Mlfq with { Starvation = Guard(section.GetSection("Mlfq:Starvation"), options.Mlfq.Starvation) };
        options.StarvationGuard = Guard(section.GetSection(nameof(StarvationGuard)), options.StarvationGuard);
    }

    private static StarvationGuard? Guard(IConfigurationSection section, StarvationGuard? bound) => section.Value switch
    {
        null => bound,
        var text when bool.TryParse(text, out var on) => on ? bound ?? new StarvationGuard() : null,
        var text => throw new InvalidOperationException($"Failed to convert configuration value '{text}' at '{section.Path}': a starvation guard is true or false"),
    };
}

/// <summary>Where the workers come from (section <c>Scheduler:Discovery</c>).</summary>
public sealed class DiscoveryOptions
{
    public const string Static = "static";
    public const string Kubernetes = "kubernetes";

    /// <summary><c>static</c> (the <c>Workers</c> list) or <c>kubernetes</c> (EndpointSlices).</summary>
    public string Mode { get; set; } = Static;

    /// <summary>Namespace of the workers' EndpointSlices.</summary>
    public string? Namespace { get; set; }

    /// <summary>Label selector of the EndpointSlices, e.g. <c>kubernetes.io/service-name=pool-workers</c>.</summary>
    public string? Selector { get; set; }

    /// <summary>The EndpointSlice port that serves the worker protocol; empty takes a slice's only port.</summary>
    public string PortName { get; set; } = "grpc";
}

/// <summary>Active-passive replicas on a <c>coordination.k8s.io</c> Lease (section <c>Scheduler:LeaderElection</c>).</summary>
public sealed class LeaderElectionOptions
{
    public bool Enabled { get; set; }
    public string? LeaseName { get; set; }
    public string? Namespace { get; set; }

    /// <summary>This replica's name in the Lease (the pod name).</summary>
    public string? Identity { get; set; } = Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName;

    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>Checks <see cref="SchedulerOptions"/>; every message names the setting and the value it rejects.</summary>
public sealed class SchedulerOptionsValidator : IValidateOptions<SchedulerOptions>
{
    /// <summary>The longest <see cref="SchedulerOptions.Name"/>, as a worker accepts it.</summary>
    public const int MaxNameLength = 253;

    public ValidateOptionsResult Validate(string? name, SchedulerOptions options)
    {
        var failures = new List<string>();
        if (PolicyCatalog.LiveRejection(options.Policy) is { } rejection)
        {
            failures.Add($"Policy: {rejection}");
        }

        var kubernetes = string.Equals(options.Discovery.Mode, DiscoveryOptions.Kubernetes, StringComparison.OrdinalIgnoreCase);
        if (!kubernetes && !string.Equals(options.Discovery.Mode, DiscoveryOptions.Static, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Discovery:Mode: '{options.Discovery.Mode}' is not one of static, kubernetes");
        }

        if (kubernetes)
        {
            Required(failures, "Discovery:Namespace", options.Discovery.Namespace);
            Required(failures, "Discovery:Selector", options.Discovery.Selector);
            if (options.Workers.Count > 0)
            {
                failures.Add("Workers: a static worker list cannot be combined with Kubernetes discovery");
            }
        }
        else if (options.Workers.Count == 0)
        {
            failures.Add("Workers: at least one worker address (host:port) is required");
        }

        if (options.LeaderElection.Enabled)
        {
            Required(failures, "LeaderElection:LeaseName", options.LeaderElection.LeaseName);
            Required(failures, "LeaderElection:Namespace", options.LeaderElection.Namespace);
            Required(failures, "LeaderElection:Identity", options.LeaderElection.Identity);
            if (options.LeaderElection.LeaseDuration <= options.LeaderElection.RenewDeadline
                || options.LeaderElection.RenewDeadline <= options.LeaderElection.RetryPeriod
                || options.LeaderElection.RetryPeriod <= TimeSpan.Zero)
            {
                failures.Add($"LeaderElection: need LeaseDuration ({options.LeaderElection.LeaseDuration}) > RenewDeadline ({options.LeaderElection.RenewDeadline}) > RetryPeriod ({options.LeaderElection.RetryPeriod}) > 0");
            }
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

        AtLeast(failures, "Batch", options.Batch, 0);
        AtLeast(failures, "MaxQueued", options.MaxQueued, 1);
        AtLeast(failures, "MaxPromptTokens", options.MaxPromptTokens, 1);
        AtLeast(failures, "MaxRequestBodyBytes", options.MaxRequestBodyBytes, 1024);
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

        if (string.IsNullOrWhiteSpace(options.Name) || options.Name.Length > MaxNameLength)
        {
            failures.Add($"Name: '{options.Name}' must be a name of 1..{Invariant(MaxNameLength)} characters");
        }

        if (options.WorkerTokenFile is { } tokenFile)
        {
            try
            {
                WorkerToken.FromFile(tokenFile);
            }
            catch (WorkerTokenException e)
            {
                failures.Add($"WorkerTokenFile: {e.Message}");
            }
        }

        if (options.ApiKeyFile is { } keyFile)
        {
            try
            {
                Api.ApiKeys.FromFile(keyFile);
            }
            catch (Api.ApiKeysException e)
            {
                failures.Add($"ApiKeyFile: {e.Message}");
            }
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

        if (options.MinStepTimeout <= TimeSpan.Zero || options.MinStepTimeout > options.StepTimeout)
        {
            failures.Add($"MinStepTimeout: '{options.MinStepTimeout}' must be positive and at most StepTimeout ({options.StepTimeout})");
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
        Knobs(failures, "StarvationGuard", () => options.StarvationGuard?.Validate());
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Required(List<string> failures, string setting, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            failures.Add($"{setting}: a value is required");
        }
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
