using Laps.Simulation.Experiments;

namespace Laps.Cli.Commands;

/// <summary>
/// Runs a whole study and reports each finished run to <paramref name="progress"/> (from any thread). The seam
/// between <c>laps sim</c> and the simulator: the real one is <see cref="SimCommand.RunExperiment"/>; tests
/// pass their own.
/// </summary>
internal delegate IReadOnlyList<RunResult> ExperimentExecutor(ExperimentSpec spec, IProgress<RunResult>? progress, CancellationToken cancellationToken);

/// <summary>What <c>laps sim</c> was asked to do: the study, and where its reports go.</summary>
internal sealed record SimInvocation(ExperimentSpec Spec, string OutputDirectory, bool Json);

/// <summary>Calls back on the reporting thread, unlike <see cref="Progress{T}"/>, which posts and may arrive late.</summary>
internal sealed class SynchronousProgress<T>(Action<T> onReport) : IProgress<T>
{
    private readonly Lock _gate = new();

    public void Report(T value)
    {
        lock (_gate)
        {
            onReport(value);
        }
    }
}
