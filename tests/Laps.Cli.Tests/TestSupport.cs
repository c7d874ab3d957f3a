using System.CommandLine;
using Laps.Cli;
using Laps.Cli.Commands;
using Laps.Simulation.Experiments;

namespace Laps.Cli.Tests;

/// <summary>Hand-made results: no simulator involved.</summary>
internal static class Runs
{
    public static RunResult Make(
        string policy = "fcfs",
        double load = 0.85,
        int batch = 1,
        int seed = 1,
        double meanLatency = 10,
        double? mape = null,
        double[]? latencies = null,
        string workload = "sharegpt") => new()
        {
            Policy = policy,
            Workload = workload,
            Proposer = "eagle",
            Arrivals = "poisson",
            Load = load,
            Batch = batch,
            Seed = seed,
            Requests = latencies?.Length ?? 100,
            MeanLatencySeconds = meanLatency,
            P50LatencySeconds = meanLatency / 2,
            P99LatencySeconds = meanLatency * 5,
            MeanTtftSeconds = 0.25,
            PreemptionsPerRequest = 1.5,
            EstimateMape = mape,
            Predictor = "ltr(tau=0.55)",
            ArrivalRate = 3.2,
            P99TtftSeconds = 2.5,
            BusySeconds = 600,
            MakespanSeconds = 640,
            Steps = 12345,
            RecomputedTokens = 42,
            Latencies = latencies ?? [],
        };

    /// <summary>Every policy × loads × batches × seeds, latencies spread so plots have something to draw.</summary>
    public static IReadOnlyList<RunResult> Study(double[] loads, int[] batches, string[] policies, int seeds)
    {
        var results = new List<RunResult>();
        foreach (var batch in batches)
        {
            foreach (var load in loads)
            {
                for (var seed = 1; seed <= seeds; seed++)
                {
                    for (var p = 0; p < policies.Length; p++)
                    {
                        var scale = (1 + p) * load * (1 + (0.05 * seed));
                        var latencies = Enumerable.Range(1, 200).Select(i => scale * Math.Exp(i / 40.0)).ToArray();
                        results.Add(Make(policies[p], load, batch, seed, latencies.Average(), p == 5 ? 0.07 : null, latencies));
                    }
                }
            }
        }

        return results;
    }
}

/// <summary>Runs <c>laps</c> in process with captured stdout and stderr and a fake simulator.</summary>
internal sealed class Cli
{
    private readonly Func<ExperimentSpec, IReadOnlyList<RunResult>> _simulate;

    public Cli(Func<ExperimentSpec, IReadOnlyList<RunResult>>? simulate = null)
    {
        _simulate = simulate ?? (_ => []); // nothing to plot keeps option tests fast
    }

    public ExperimentSpec? Spec { get; private set; }
    public int ProgressReports { get; private set; }

    public (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var command = new LapsCommand(Execute);
        var exitCode = command.Invoke(args, new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    private IReadOnlyList<RunResult> Execute(ExperimentSpec spec, IProgress<RunResult>? progress, CancellationToken cancellationToken)
    {
        Spec = spec;
        var results = _simulate(spec);
        foreach (var result in results)
        {
            progress?.Report(result);
            ProgressReports++;
        }

        return results;
    }
}

/// <summary>A fresh directory under the system temp folder, removed afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "laps-cli-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
