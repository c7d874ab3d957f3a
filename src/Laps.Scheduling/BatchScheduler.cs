using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling;

/// <summary>
/// The scheduling core for one worker: a <see cref="PoolScheduler"/> over a single worker without a KV limit, as the
/// single-worker simulator and the policies' tests drive it. Admit requests, ask for each step's batch, report what
/// each step did, finish or cancel. The returned decision is reused by the next call. Not thread-safe.
/// </summary>
public sealed class BatchScheduler
{
    private readonly PoolScheduler _pool;
    private readonly PoolWorker _worker;

    public BatchScheduler(SchedulingPolicy policy, ILengthPredictor predictor, int maxBatch)
    {
        if (maxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch size must be >= 1");
        }

        _pool = new PoolScheduler(policy, predictor);
        _worker = _pool.AddWorker(maxBatch);
    }

    public SchedulingPolicy Policy => _pool.Policy;
    public int MaxBatch => _worker.MaxBatch;

    /// <summary>Admitted requests not yet finished (running ones included).</summary>
    public int Pending => _pool.Pending;

    public void Admit(RequestState request) => _pool.Admit(request);

    /// <summary>The next batch; <paramref name="exclude"/> holds back requests the host cannot run now.</summary>
    public BatchDecision Decide(Func<RequestState, bool>? exclude = null) => _pool.Decide(_worker, exclude);

    /// <summary>Records what one step did for a request of the current batch.</summary>
    public void RecordStep(RequestState request, int emitted, int drafted, int accepted, double stepSeconds, double now)
        => _pool.RecordStep(request, emitted, drafted, accepted, stepSeconds, now);

    /// <summary>The request produced its last token: it leaves the queue and teaches the predictors.</summary>
    public void Finish(RequestState request, double now) => _pool.Finish(request, now);

    /// <summary>The client went away (or the request failed): it leaves without teaching anything.</summary>
    public void Cancel(RequestState request) => _pool.Cancel(request);
}
