namespace Laps.Simulation.Experiments;

/// <summary>Runs an <see cref="ExperimentSpec"/>: measures FCFS saturation, then every run, in parallel.</summary>
public sealed class ExperimentRunner
{
    public ExperimentRunner(ExperimentSpec spec)
    {
        spec.Validate();
        Spec = spec;
    }

    public ExperimentSpec Spec { get; }

    /// <summary>Number of runs <see cref="Run"/> will report (saturation measurements not counted).</summary>
    public int TotalRuns => Spec.Loads.Count * Spec.Batches.Count * Spec.Seeds * Spec.Policies.Count;

    /// <summary>Runs everything; <paramref name="progress"/> hears each finished run. Results come back in a stable order.</summary>
    public IReadOnlyList<RunResult> Run(IProgress<RunResult>? progress = null, CancellationToken cancellationToken = default)
        => throw new NotImplementedException("engine lands next");
}
