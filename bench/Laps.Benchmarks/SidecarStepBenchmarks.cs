using BenchmarkDotNet.Attributes;

namespace Laps.Benchmarks;

/// <summary>
/// The sidecar's mean cost per step in its real code path (see <see cref="SidecarRig"/>): batch 32, 10,000 requests
/// queued beside it, an in-process worker that answers at once. One operation is one step. The distribution per
/// step (p99) comes from <c>--sidecar-overhead</c>, which times each step on its own.
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class SidecarStepBenchmarks
{
    private const int StepsPerInvoke = 1_000;
    private InstantWorker _worker = null!;
    private SidecarRig _rig = null!;

    [Params("laps", "fcfs", "srpt")]
    public string Policy { get; set; } = "laps";

    [GlobalSetup]
    public void Setup()
    {
        _worker = new InstantWorker(warmup: 0, record: 0);
        _rig = SidecarRig.StartAsync(_worker, Policy, batch: 32, queued: 10_000).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _rig.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public Task Step() => _worker.StepsAsync(StepsPerInvoke);
}
