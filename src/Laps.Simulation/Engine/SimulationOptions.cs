using Laps.Scheduling.Estimation;
using Laps.Simulation.Experiments;

namespace Laps.Simulation.Engine;

/// <summary>
/// The engine being simulated: a pool of <see cref="Workers"/> identical workers, each running SD steps on batches of
/// up to <see cref="Batch"/> with a KV cache of <see cref="KvCapacityTokens"/>, behind one queue and policy.
/// </summary>
public sealed record SimulationOptions
{
    public ProposerKind Proposer { get; init; } = ProposerKind.Eagle;
    public int K { get; init; } = 4;
    public int Batch { get; init; } = 1;
    public StepTimeModel StepTime { get; init; } = StepTimeModel.H100Llama8B;
    public long KvCapacityTokens { get; init; } = 400_000;
    public ResumeMode Resume { get; init; } = ResumeMode.Keep;

    /// <summary>Workers in the pool; 1 simulates a single worker.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>Tenants share each worker's batch slots (<see cref="Laps.Scheduling.FairShare"/>); the simulated queue is unbounded, so admission never refuses.</summary>
    public bool FairShare { get; init; } = true;
}

/// <summary>What one simulated run measured.</summary>
/// <param name="BusySeconds">Time the workers computed, summed over workers.</param>
/// <param name="MakespanSeconds">When the last request finished.</param>
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
