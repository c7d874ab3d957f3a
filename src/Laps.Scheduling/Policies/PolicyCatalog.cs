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

    public static bool IsKnown(string name) => Names.Contains(name, StringComparer.Ordinal);

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
