namespace Laps.Scheduling.Policies;

/// <summary>Knobs that choose and configure a policy by name, as configuration and command lines give them.</summary>
public sealed record PolicySettings
{
    public LapsOptions Laps { get; init; } = new();
    public MlfqOptions Mlfq { get; init; } = new();

    /// <summary>LTR-style starvation guard for SJF and SRPT on predicted length (off by default).</summary>
    public StarvationGuard? PredictedLengthGuard { get; init; }
}

/// <summary>Resolves policies by their name constant.</summary>
public static class PolicyCatalog
{
    public static IReadOnlyList<string> Names { get; } =
    [
        FcfsPolicy.PolicyName, MlfqPolicy.PolicyName, LasPolicy.PolicyName, SjfPolicy.PolicyName,
        SrptPolicy.PolicyName, LapsPolicy.PolicyName, OracleSrptPolicy.PolicyName,
    ];

    /// <summary>
    /// The policies a live scheduler can run: all but the oracle, which orders by each request's true output length
    /// (only the simulator knows it).
    /// </summary>
    public static IReadOnlyList<string> LiveNames { get; } = [.. Names.Where(n => n != OracleSrptPolicy.PolicyName)];

    public static bool IsKnown(string name) => Names.Contains(name, StringComparer.Ordinal);

    public static bool IsLive(string name) => LiveNames.Contains(name, StringComparer.Ordinal);

    /// <summary>Why a live scheduler cannot run <paramref name="name"/> (naming it), or null when it can.</summary>
    public static string? LiveRejection(string name) => IsLive(name)
        ? null
        : IsKnown(name)
            ? $"'{name}' cannot run live: it orders by each request's true output length, which only the simulator knows; live policies: {string.Join(", ", LiveNames)}"
            : $"unknown policy '{name}'; known: {string.Join(", ", LiveNames)}";

    public static SchedulingPolicy Create(string name, PolicyContext context, PolicySettings? settings = null)
    {
        settings ??= new PolicySettings();
        return name switch
        {
            FcfsPolicy.PolicyName => new FcfsPolicy(context),
            MlfqPolicy.PolicyName => new MlfqPolicy(context, settings.Mlfq),
            LasPolicy.PolicyName => new LasPolicy(context),
            SjfPolicy.PolicyName => new SjfPolicy(context, settings.PredictedLengthGuard),
            SrptPolicy.PolicyName => new SrptPolicy(context, settings.PredictedLengthGuard),
            LapsPolicy.PolicyName => new LapsPolicy(context, settings.Laps),
            OracleSrptPolicy.PolicyName => new OracleSrptPolicy(context),
            _ => throw new ArgumentException($"unknown policy '{name}'; known: {string.Join(", ", Names)}", nameof(name)),
        };
    }
}
