using Laps.Scheduling.Collections;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

public sealed record MlfqOptions
{
    public int Levels { get; init; } = 6;

    /// <summary>Quantum of the top level, in steps of <see cref="PolicyContext.StepSeconds"/> (FastServe: 1-3).</summary>
    public double BaseQuantumSteps { get; init; } = 2;

    /// <summary>Each level's quantum is this many times the one above.</summary>
    public double Ratio { get; init; } = 2;

    public StarvationGuard? Starvation { get; init; }

    public void Validate()
    {
        if (Levels is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(Levels), Levels, "MLFQ levels must be in 1..64");
        }

        if (!(BaseQuantumSteps > 0) || double.IsInfinity(BaseQuantumSteps))
        {
            throw new ArgumentOutOfRangeException(nameof(BaseQuantumSteps), BaseQuantumSteps, "MLFQ base quantum must be a positive number of steps");
        }

        if (!(Ratio >= 1) || double.IsInfinity(Ratio))
        {
            throw new ArgumentOutOfRangeException(nameof(Ratio), Ratio, "MLFQ quantum ratio must be >= 1");
        }
    }
}

/// <summary>
/// FastServe-like multi-level feedback queue without skip-join: every request enters the top level; after using
/// a level's quantum of GPU time it is demoted (quanta grow by <see cref="MlfqOptions.Ratio"/> per level);
/// FCFS by the time a request entered its level.
/// </summary>
public sealed class MlfqPolicy : SchedulingPolicy
{
    public const string PolicyName = "mlfq";
    private readonly AttainedServiceLevels _levels;

    public MlfqPolicy(PolicyContext context, MlfqOptions? options = null)
        : base(context, Checked(options).Starvation)
    {
        Options = options ?? new MlfqOptions();
        _levels = AttainedServiceLevels.FromQuanta(Options.Levels, Options.BaseQuantumSteps * context.StepSeconds, Options.Ratio);
    }

    public MlfqOptions Options { get; }
    public override string Name => PolicyName;

    public override int QueueLevel(RequestState request) => EntryOf(request).Level;

    protected override Priority KeyFor(RequestState request)
    {
        var entry = EntryOf(request);
        var level = _levels.LevelOf(request.AttainedService);
        if (level != entry.Level || entry.LevelEnteredSequence == 0)
        {
            entry.Level = level;
            entry.LevelEnteredSequence = NextSequence();
        }

        return new(level, entry.LevelEnteredSequence, 0, request.Id);
    }

    private static MlfqOptions Checked(MlfqOptions? options)
    {
        options ??= new MlfqOptions();
        options.Validate();
        return options;
    }
}
