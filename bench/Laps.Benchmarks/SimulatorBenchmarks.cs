using Laps.Scheduling;
using BenchmarkDotNet.Attributes;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Simulation.Engine;

namespace Laps.Benchmarks;

/// <summary>
/// Simulator speed: one run of 2,000 synthetic requests at ρ ≈ 0.85. Steps per second = <see cref="Steps"/> /
/// the reported mean time (printed at setup).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 2, iterationCount: 5)]
public class SimulatorBenchmarks
{
    private IReadOnlyList<SimulatedRequest> _requests = [];
    private SimulationOptions _options = new();

    [Params(1, 32)]
    public int Batch { get; set; }

    [Params(FcfsPolicy.PolicyName, LapsPolicy.PolicyName)]
    public string Policy { get; set; } = LapsPolicy.PolicyName;

    public long Steps { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _options = new SimulationOptions { Batch = Batch };
        var random = new Random(7);
        var n = 2000;
        var requests = new SimulatedRequest[n];
        var stepSeconds = Simulator.ReferenceStepSeconds(_options, []);
        var work = 0.0;
        var accLens = new int[n][];
        for (var i = 0; i < n; i++)
        {
            var length = Math.Clamp((int)Math.Exp(6.0 + Sampling.StandardNormal(random)), 2, 8192);
            var acc = new int[length];
            for (var p = 0; p < length; p++)
            {
                var run = 1;
                while (run < 12 && random.NextDouble() < 0.63)
                {
                    run++;
                }

                acc[p] = run;
            }

            accLens[i] = acc;
            work += length / 2.6 * stepSeconds;
        }

        // Capacity grows with the batch roughly as the step cost allows; aim at 0.85 of it.
        var capacity = n / work * Batch * (stepSeconds / _options.StepTime.StepSeconds(ProposerKind.Eagle, 4, Batch, 0, Batch * 700L));
        var t = 0.0;
        for (var i = 0; i < n; i++)
        {
            t += -Math.Log(1 - random.NextDouble()) / (0.85 * capacity);
            requests[i] = new SimulatedRequest(i, t, 200, accLens[i], "bench");
        }

        _requests = requests;
        Steps = Run().Steps;
        Console.WriteLine($"// {Policy} batch {Batch}: {Steps} steps per run");
    }

    [Benchmark(Description = "simulate 2,000 requests")]
    public long Simulate() => Run().Steps;

    private SimulationOutcome Run()
    {
        var context = new PolicyContext(4, Simulator.ReferenceStepSeconds(_options, _requests), 0.65);
        return new Simulator(_options).Run(_requests, PolicyCatalog.Create(Policy, context), new OracleLengthPredictor());
    }
}
