using System.Globalization;

namespace Laps.Scheduling.Policies;

/// <summary>What a knob's value is.</summary>
public enum KnobType
{
    WholeNumber,

    /// <summary>A number; <c>inf</c> is +∞.</summary>
    Number,

    /// <summary><c>on</c> or <c>off</c> (also <c>true</c>, <c>false</c>).</summary>
    Switch,

    /// <summary>One of <see cref="SchedulerKnob.Choices"/>.</summary>
    Choice,
}

/// <summary>
/// One scheduler setting, described once for every place that names it: the sidecar's configuration key, the
/// command-line option (<c>laps sim</c> for policy knobs, <c>laps up</c> and <c>laps scheduler</c> for all), the
/// InferencePool field, its type, its default and its help text. Ranges are checked where the value is used
/// (<see cref="LapsOptions.Validate"/>, <see cref="MlfqOptions.Validate"/>, the sidecar's options validator), with
/// messages that name this knob's key or option.
/// </summary>
public sealed class SchedulerKnob
{
    private readonly Dictionary<string, string> _configValues;
    private readonly Func<string, string?>? _rejection;

    internal SchedulerKnob(
        string key, string option, string crdField, KnobType type, IReadOnlyDictionary<string, string> choices, string help,
        string defaultWord, string? paperWord, IReadOnlyList<string> policies, Func<string, string?>? rejection = null)
    {
        _rejection = rejection;
        Key = key;
        Option = option;
        CrdField = crdField;
        Type = type;
        _configValues = new Dictionary<string, string>(choices, StringComparer.OrdinalIgnoreCase);
        Choices = [.. choices.Keys];
        Help = help;
        Default = defaultWord;
        Paper = paperWord == defaultWord ? null : paperWord;
        Policies = policies;
    }

    /// <summary>The path in the sidecar's configuration section <c>Scheduler</c> (<c>Laps:Queues</c>): the property path the configuration binder fills.</summary>
    public string Key { get; }

    /// <summary>The command-line option (<c>--laps-queues</c>).</summary>
    public string Option { get; }

    /// <summary>The field under an InferencePool's <c>spec.scheduler</c>, dot-separated (<c>laps.queues</c>).</summary>
    public string CrdField { get; }

    public KnobType Type { get; }

    /// <summary>The words a <see cref="KnobType.Choice"/> takes, in lower case, as command lines and the CRD spell them.</summary>
    public IReadOnlyList<string> Choices { get; }

    /// <summary>One line for <c>--help</c> (the default is shown beside it, once).</summary>
    public string Help { get; }

    /// <summary>The default, as a user writes it (<c>4</c>, <c>gittins</c>, <c>on</c>).</summary>
    public string Default { get; }

    /// <summary>The value in the paper preset (<c>variant paper</c>) where it differs from <see cref="Default"/>.</summary>
    public string? Paper { get; }

    /// <summary>The policies this knob configures; empty for the scheduler's own settings.</summary>
    public IReadOnlyList<string> Policies { get; }

    /// <summary>
    /// A value as a user writes it → the configuration value the sidecar binds (<c>inf</c> → <c>Infinity</c>,
    /// <c>on</c> → <c>true</c>, <c>paper</c> → <c>Paper</c>); <see cref="FormatException"/> says what is wrong with it.
    /// </summary>
    public string ToConfig(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        var text = word.Trim();
        switch (Type)
        {
            case KnobType.WholeNumber when int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer):
                return integer.ToString(CultureInfo.InvariantCulture);
            case KnobType.WholeNumber:
                throw new FormatException($"'{word}' is not an integer");
            case KnobType.Number when text.ToUpperInvariant() is "INF" or "+INF" or "∞":
                return double.PositiveInfinity.ToString(CultureInfo.InvariantCulture);
            case KnobType.Number when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number):
                return number.ToString("R", CultureInfo.InvariantCulture);
            case KnobType.Number:
                throw new FormatException($"'{word}' is not a number");
            case KnobType.Switch:
                return text.ToUpperInvariant() switch
                {
                    "ON" or "TRUE" => "true",
                    "OFF" or "FALSE" => "false",
                    _ => throw new FormatException($"'{word}' is not on or off"),
                };
            default:
                return _configValues.TryGetValue(text, out var value)
                    ? value
                    : throw new FormatException(_rejection?.Invoke(text) ?? $"unknown value '{word}'; expected {string.Join(", ", Choices)}");
        }
    }

    public override string ToString() => Key;

    /// <summary>A typed value as a user writes it.</summary>
    internal static string Word(object? value) => value switch
    {
        null or false => "off",
        true or StarvationGuard => "on",
        double d when double.IsPositiveInfinity(d) => "inf",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable formattable and not Enum => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => Lower(value.ToString()!),
    };

#pragma warning disable CA1308 // the words users type are lower case
    internal static string Lower(string name) => name.ToLowerInvariant();
#pragma warning restore CA1308
}

/// <summary>
/// The one table of scheduler settings: the policy, the batch, the queue limit and every policy knob. <c>laps sim</c>,
/// <c>laps up</c> and <c>laps scheduler</c> derive their options from it, and the operator its configuration keys;
/// tests hold the CRD's fields and the sidecar's options to it.
/// </summary>
public static class SchedulerKnobs
{
    /// <summary>0: each worker's own maximum (an engine adapter's is the engine's batch cap, e.g. vLLM's --max-num-seqs).</summary>
    public const int DefaultBatch = 0;
    public const int DefaultMaxQueued = 256;

    private static readonly IReadOnlyDictionary<string, string> OnOff = new Dictionary<string, string> { ["on"] = "true", ["off"] = "false" };
    private static readonly IReadOnlyDictionary<string, string> NoChoices = new Dictionary<string, string>();

    /// <summary>The live policies only: the oracle needs each request's true length, which only the simulator knows.</summary>
    public static SchedulerKnob Policy { get; } = new(
        "Policy", "--policy", "policy", KnobType.Choice, PolicyCatalog.LiveNames.ToDictionary(n => n, n => n), "Scheduling policy",
        LapsPolicy.PolicyName, null, [], PolicyCatalog.LiveRejection);

    public static SchedulerKnob Batch { get; } = new(
        "Batch", "--batch", "batchSize", KnobType.WholeNumber, NoChoices, "Sequences per step on each worker (0: each worker's own maximum, the engine's batch cap)", SchedulerKnob.Word(DefaultBatch), null, []);

    public static SchedulerKnob MaxQueued { get; } = new(
        "MaxQueued", "--max-queued", "maxQueued", KnobType.WholeNumber, NoChoices,
        "Requests that may wait for a batch slot, all workers together, before new ones get 429", SchedulerKnob.Word(DefaultMaxQueued), null, []);

    public static IReadOnlyList<SchedulerKnob> All { get; } =
    [
        Policy,
        Batch,
        MaxQueued,
        new(
            "StarvationGuard", "--starvation-guard", "starvationGuard", KnobType.Switch, OnOff, "SJF and SRPT: the LTR-style starvation guard, with its defaults",
            "off", null, [SjfPolicy.PolicyName, SrptPolicy.PolicyName]),
        Laps(nameof(LapsOptions.Variant), "--laps-variant", "laps.variant", o => o.Variant,
            "LAPS-SD: 'paper' is the paper's literal reading, every knob at the paper's value unless given; 'perceived' places a perceptible request in the queue of its estimated remaining time, with the measured best knobs"),
        Laps(nameof(LapsOptions.Estimate), "--laps-estimate", "laps.estimate", o => o.Estimate, "LAPS-SD: how a perceptible request's remaining time is estimated"),
        Laps(nameof(LapsOptions.Conditioning), "--laps-conditioning", "laps.conditioning", o => o.Conditioning, "LAPS-SD: how the length posterior conditions on the prediction"),
        Laps(nameof(LapsOptions.ReserveTopQueue), "--laps-reserve-top", "laps.reserveTopQueue", o => o.ReserveTopQueue, "LAPS-SD: keep the top queue for requests in their first quantum"),
        Laps(nameof(LapsOptions.PredictBeforeStable), "--laps-predict-early", "laps.predictBeforeStable", o => o.PredictBeforeStable,
            "LAPS-SD: order requests by prediction after their first quantum, before their acceptance is stable"),
        Laps(nameof(LapsOptions.CostAwarePreemption), "--laps-cost-aware", "laps.costAwarePreemption", o => o.CostAwarePreemption,
            "LAPS-SD: preempt a running request only when the gain exceeds its resume cost"),
        Laps(nameof(LapsOptions.AcceptancePriorSteps), "--laps-acceptance-prior", "laps.acceptancePriorSteps", o => o.AcceptancePriorSteps, "LAPS-SD: weight of the prior acceptance in Â, in steps"),
        Laps(nameof(LapsOptions.Queues), "--laps-queues", "laps.queues", o => o.Queues, "LAPS-SD: number of priority queues"),
        Laps(nameof(LapsOptions.Theta0Steps), "--laps-theta0", "laps.theta0Steps", o => o.Theta0Steps, "LAPS-SD: first threshold θ0, in steps of GPU time"),
        Laps(nameof(LapsOptions.Ratio), "--laps-ratio", "laps.ratio", o => o.Ratio, "LAPS-SD: threshold ratio r, θj = θ0·r^j"),
        Laps(nameof(LapsOptions.StabilityWindow), "--laps-window", "laps.stabilityWindow", o => o.StabilityWindow, "LAPS-SD: stability window, in steps"),
        Laps(nameof(LapsOptions.StabilityTolerance), "--laps-tolerance", "laps.stabilityTolerance", o => o.StabilityTolerance,
            "LAPS-SD: stability tolerance on the acceptance rate; 0 never stable, 'inf' always"),
        Laps(nameof(LapsOptions.MinSteps), "--laps-min-steps", "laps.minSteps", o => o.MinSteps, "LAPS-SD: steps before a request may become perceptible"),
        Laps(nameof(LapsOptions.DemoteAfterPerceptible), "--laps-demote", "laps.demoteAfterPerceptible", o => o.DemoteAfterPerceptible,
            "LAPS-SD: keep demoting by attained service after a request is perceptible"),
        Laps(nameof(LapsOptions.Aging), "--laps-aging", "laps.aging", o => o.Aging, "LAPS-SD: the starvation guard (aging), with its defaults"),
        Laps(nameof(LapsOptions.PosteriorCapacity), "--laps-posterior-capacity", "laps.posteriorCapacity", o => o.PosteriorCapacity, "LAPS-SD: completed requests the length posterior remembers"),
        Laps(nameof(LapsOptions.PosteriorNeighbours), "--laps-posterior-neighbours", "laps.posteriorNeighbours", o => o.PosteriorNeighbours,
            "LAPS-SD: nearest predictions the length posterior conditions on"),
        Mlfq(nameof(MlfqOptions.Levels), "--mlfq-levels", "mlfq.levels", o => o.Levels, "MLFQ: number of levels"),
        Mlfq(nameof(MlfqOptions.BaseQuantumSteps), "--mlfq-quantum", "mlfq.baseQuantumSteps", o => o.BaseQuantumSteps, "MLFQ: quantum of the top level, in steps"),
        Mlfq(nameof(MlfqOptions.Ratio), "--mlfq-ratio", "mlfq.ratio", o => o.Ratio, "MLFQ: each level's quantum is this many times the one above"),
        Mlfq(nameof(MlfqOptions.Starvation), "--mlfq-starvation-guard", "mlfq.starvationGuard", o => o.Starvation, "MLFQ: the starvation guard, with its defaults"),
    ];

    /// <summary>The policies' own knobs: what <c>laps sim</c> offers beside its lists of policies and batches.</summary>
    public static IReadOnlyList<SchedulerKnob> PolicyKnobs { get; } = [.. All.Where(k => k.Policies.Count > 0)];

    /// <summary>The knob with this configuration key (<c>Laps:Queues</c>), if any.</summary>
    public static SchedulerKnob? ByKey(string key) => All.FirstOrDefault(k => string.Equals(k.Key, key, StringComparison.OrdinalIgnoreCase));

    private static SchedulerKnob Laps<T>(string property, string option, string crdField, Func<LapsOptions, T> value, string help)
        => Make("Laps:" + property, option, crdField, typeof(T), value(new LapsOptions()), property == nameof(LapsOptions.Variant) ? null : value(LapsOptions.Paper), LapsPolicy.PolicyName, help);

    private static SchedulerKnob Mlfq<T>(string property, string option, string crdField, Func<MlfqOptions, T> value, string help)
        => Make("Mlfq:" + property, option, crdField, typeof(T), value(new MlfqOptions()), value(new MlfqOptions()), MlfqPolicy.PolicyName, help);

    // The type of the option's property decides the knob's type (a starvation guard is switched on with its defaults).
    private static SchedulerKnob Make(string key, string option, string crdField, Type type, object? defaultValue, object? paperValue, string policy, string help)
    {
        var (kind, choices) = type switch
        {
            _ when type == typeof(int) => (KnobType.WholeNumber, NoChoices),
            _ when type == typeof(double) => (KnobType.Number, NoChoices),
            _ when type == typeof(bool) || type == typeof(StarvationGuard) => (KnobType.Switch, OnOff),
            _ when type.IsEnum => (KnobType.Choice, Enum.GetNames(type).ToDictionary(SchedulerKnob.Lower, n => n)),
            _ => throw new ArgumentException($"a knob cannot be of type {type}", nameof(type)),
        };
        return new SchedulerKnob(key, option, crdField, kind, choices, help, SchedulerKnob.Word(defaultValue), paperValue is null ? null : SchedulerKnob.Word(paperValue), [policy]);
    }
}
