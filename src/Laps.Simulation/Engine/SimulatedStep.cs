namespace Laps.Simulation.Engine;

/// <summary>
/// One step as <see cref="Simulator.Run"/> reports it to an observer (a trace, for tests and debugging). Requests are
/// named by <see cref="SimulatedRequest.Index"/>, workers by their index in the pool.
/// </summary>
/// <param name="Worker">The worker that runs the step.</param>
/// <param name="Start">When the step was decided.</param>
/// <param name="End">When it ends (its report, and the worker's next decision).</param>
/// <param name="Batch">The requests the step runs.</param>
/// <param name="Prefill">Those whose prefix the step computes: new, moved or evicted ones.</param>
/// <param name="Moved">Those whose KV lived on another worker (<c>From</c>), which released it.</param>
/// <param name="Preempted">Requests of the worker's previous batch that lost their slot.</param>
/// <param name="Waiting">Admitted requests in no batch once the step was decided, and the worker holding their KV (null: none).</param>
public sealed record SimulatedStep(
    int Worker,
    double Start,
    double End,
    IReadOnlyList<int> Batch,
    IReadOnlyList<int> Prefill,
    IReadOnlyList<(int Request, int From)> Moved,
    IReadOnlyList<int> Preempted,
    IReadOnlyList<(int Request, int? KvOn)> Waiting);
