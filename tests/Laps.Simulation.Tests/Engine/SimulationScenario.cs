using Laps.Scheduling;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Simulation.Engine;

namespace Laps.Simulation.Tests.Engine;

/// <summary>Builds small, seeded simulation inputs in code (tests never read ../shared).</summary>
internal static class SimulationScenario
{
    /// <summary>Heavy-tailed lengths, per-request acceptance uniform in 0.6 ± spread/2, Poisson arrivals at about <paramref name="load"/> of batch-1 capacity.</summary>
    public static IReadOnlyList<SimulatedRequest> Requests(int n, int seed, double load = 0.8, double lengthSigma = 1.0, double alphaSpread = 0.4)
    {
        var random = new Random(seed);
        var lengths = new int[n];
        var accLens = new int[n][];
        double totalSeconds = 0;
        var stepSeconds = StepTimeModel.H100Llama8B.StepSeconds(ProposerKind.Eagle, 4, 1, 0, 500);
        for (var i = 0; i < n; i++)
        {
            lengths[i] = Math.Clamp((int)Math.Exp(4.5 + (lengthSigma * Sampling.StandardNormal(random))), 2, 3000);
            var alpha = 0.6 + (alphaSpread * (random.NextDouble() - 0.5));
            var acc = new int[lengths[i]];
            for (var p = 0; p < acc.Length; p++)
            {
                var run = 1;
                while (run < 12 && random.NextDouble() < alpha)
                {
                    run++;
                }

                acc[p] = run;
            }

            accLens[i] = acc;
            totalSeconds += lengths[i] / (1 + (4 * alpha)) * stepSeconds;
        }

        var rate = load * n / totalSeconds;
        var t = 0.0;
        var result = new SimulatedRequest[n];
        for (var i = 0; i < n; i++)
        {
            t += -Math.Log(1 - random.NextDouble()) / rate;
            result[i] = new SimulatedRequest(i, t, 50 + random.Next(200), accLens[i], "test");
        }

        return result;
    }

    /// <summary>The policies' prior acceptance is the requests' mean true acceptance (what a deployment would configure).</summary>
    public static PolicyContext Context(IReadOnlyList<SimulatedRequest> requests, SimulationOptions options)
        => new(options.K, Simulator.ReferenceStepSeconds(options, requests), requests.Average(r => r.TrueAcceptance(options.K)));

    public static SimulationOutcome Run(IReadOnlyList<SimulatedRequest> requests, string policy, SimulationOptions? options = null, PolicySettings? settings = null, ILengthPredictor? predictor = null)
    {
        options ??= new SimulationOptions();
        var context = Context(requests, options);
        return new Simulator(options).Run(requests, PolicyCatalog.Create(policy, context, settings), predictor ?? new OracleLengthPredictor());
    }
}
