using Laps.Scheduling.Estimation;
using Laps.Simulation.Experiments;

namespace Laps.Simulation.Engine;

/// <summary>The engine being simulated: one worker running SD steps on batches of up to <see cref="Batch"/>.</summary>
public sealed record SimulationOptions
{
    public ProposerKind Proposer { get; init; } = ProposerKind.Eagle;
    public int K { get; init; } = 4;
    public int Batch { get; init; } = 1;
    public StepTimeModel StepTime { get; init; } = StepTimeModel.H100Llama8B;
    public long KvCapacityTokens { get; init; } = 400_000;
    public ResumeMode Resume { get; init; } = ResumeMode.Keep;
}

/// <summary>What one simulated run measured.</summary>
public sealed record SimulationOutcome(
    double[] Latencies,
    double[] Ttfts,
    double MeanPreemptions,
    double? EstimateMape,
    double BusySeconds,
    double MakespanSeconds,
    long Steps,
    long RecomputedTokens,
    double[] FinishTimes);
