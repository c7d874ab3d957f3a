using Laps.Scheduler.Observability;
using Laps.Scheduler.Serving.Sessions;
using Microsoft.Extensions.Logging;

namespace Laps.Scheduler.Serving;

/// <summary>
/// Drives one worker: describe it, then repeatedly take its next batch from the <see cref="Dispatcher"/>, run one SD
/// step on the worker and hand the report back, releasing the worker state of sequences that left. While the worker
/// does not answer, probe it with backoff (the dispatcher gives its requests to the others meanwhile). The loop
/// owns no request: the dispatcher does.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage(
    "Reliability", "CA1001", Justification = "_retire has no timer or registration to free; Retire may come after the loop ended")]
internal sealed partial class WorkerLoop
{
    private readonly IWorkerSession _session;
    private readonly Dispatcher _dispatcher;
    private readonly SchedulerMetrics _metrics;
    private readonly ServingGauges _gauges;
    private readonly SchedulerClock _clock;
    private readonly WorkerHealth _health;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _described = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _retire = new();
    private volatile bool _ready;

    public WorkerLoop(
        string name,
        IWorkerSession session,
        Dispatcher dispatcher,
        SchedulerOptions options,
        SchedulerMetrics metrics,
        ServingGauges gauges,
        SchedulerClock clock,
        ILogger logger)
    {
        Slot = new WorkerSlot(name);
        dispatcher.Register(Slot);
        _session = session;
        _dispatcher = dispatcher;
        _metrics = metrics;
        _gauges = gauges;
        _clock = clock;
        _health = new WorkerHealth(options);
        _logger = logger;
    }

    public string Name => Slot.Name;

    internal WorkerSlot Slot { get; }

    internal IWorkerSession Session => _session;

    /// <summary>What the worker said it is, once it answered Describe.</summary>
    public WorkerInfo? Info { get; private set; }

    /// <summary>The worker answered its last call.</summary>
    public bool Ready => _ready;

    /// <summary>Completes when the worker first answered Describe.</summary>
    public Task Described => _described.Task;

    /// <summary>The loop's run, once started; it completes when the loop ended.</summary>
    public Task Run { get; private set; } = Task.CompletedTask;

    /// <summary>The worker left the pool (set by <see cref="Retire"/>): no new requests come here.</summary>
    public bool Retired => _retire.IsCancellationRequested;

    /// <summary>Starts the loop; an unexpected error ends it cleanly (see <see cref="Dispatcher.Died"/>).</summary>
    public Task Start(CancellationToken stoppingToken)
    {
        Run = Task.Run(() => RunAsync(stoppingToken), CancellationToken.None);
        return Run;
    }

    /// <summary>
    /// The worker left the pool: it takes no new work; it keeps what it holds while no other worker can take it, and
    /// its loop ends once it holds nothing or others took it over.
    /// </summary>
    public void Retire()
    {
        _retire.Cancel();
        _dispatcher.Retire(Slot);
    }

    /// <summary>Sends the worker the releases the dispatcher queued for it (best effort).</summary>
    public async Task FlushReleasesAsync(CancellationToken cancellationToken)
    {
        var ids = _dispatcher.TakeReleases(Slot);
        if (ids.Count == 0)
        {
            return;
        }

        try
        {
            await _session.ReleaseAsync(ids, _health.CallTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (WorkerCallException e)
        {
            // Best effort: the worker evicts what it must anyway, and a restarted one holds nothing.
            LogReleaseFailed(Name, e.Message);
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        // Waits (describe, probe, backoff) also end when the worker leaves the pool; calls in flight do not.
        using var waits = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _retire.Token);
        _gauges.WorkerJoined(Name);
        StepPlan? plan = null;
        try
        {
            if (!await DescribeAsync(waits.Token).ConfigureAwait(false))
            {
                _dispatcher.TryLeave(Slot); // left before it ever answered: it holds nothing
                return;
            }

            while (!stoppingToken.IsCancellationRequested)
            {
                await FlushReleasesAsync(stoppingToken).ConfigureAwait(false);
                if (Retired && _dispatcher.TryLeave(Slot))
                {
                    await FlushReleasesAsync(stoppingToken).ConfigureAwait(false); // what it held runs elsewhere now
                    break;
                }

                if (!_ready)
                {
                    await ProbeAsync(Retired ? stoppingToken : waits.Token).ConfigureAwait(false);
                    continue;
                }

                var changed = _dispatcher.Changed;
                plan = _dispatcher.TakeBatch(Slot);
                _gauges.Running(Name, plan?.Requests.Count ?? 0);
                if (plan is null)
                {
                    await changed.WaitAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }

                await StepAsync(plan, stoppingToken, Retired ? stoppingToken : waits.Token).ConfigureAwait(false);
                plan = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A defect, not a worker fault: the worker is not ready any more, its step's requests fail with an error.
            LogLoopDied(e, Name);
            SetReady(false);
            _dispatcher.Died(Slot, plan);
        }
        finally
        {
            _described.TrySetResult(); // nobody waits forever for a loop that ended
            _gauges.Running(Name, 0);
        }
    }

    private async Task<bool> DescribeAsync(CancellationToken waits)
    {
        while (true)
        {
            try
            {
                var info = await _session.DescribeAsync(_health.StepTimeout, waits).ConfigureAwait(false);
                Info = info;
                _health.SelfBounded = info.ResumePrefillSecondsPerToken > 0;
                _health.Answered();
                _dispatcher.Join(Slot, info);
                SetReady(true);
                _described.TrySetResult();
                return true;
            }
            catch (WorkerCallException e)
            {
                _health.Failed();
                _dispatcher.SetReady(Slot, false, _health.Failures);
                LogDescribeFailed(Name, _health.Failures, e.Message);
            }
            catch (OperationCanceledException) when (Retired)
            {
                return false; // left before it ever answered: it holds nothing
            }

            try
            {
                await Task.Delay(_health.Backoff, _clock.TimeProvider, waits).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (Retired)
            {
                return false;
            }
        }
    }

    private async Task StepAsync(StepPlan plan, CancellationToken stoppingToken, CancellationToken waits)
    {
        var started = _clock.TimeProvider.GetTimestamp();
        StepResult result;
        try
        {
            result = await _session.StepAsync(plan.Steps, _health.StepTimeout, stoppingToken).ConfigureAwait(false);
        }
        catch (WorkerCallException e)
        {
            _health.Failed();
            LogStepFailed(Name, e.Fault, e.Message);
            SetReady(false);
            _dispatcher.StepFailed(Slot, plan, e);
            await BackoffAsync(waits).ConfigureAwait(false);
            return;
        }

        var measured = _clock.TimeProvider.GetElapsedTime(started).TotalSeconds;
        _metrics.StepDuration.WithLabels(Name).Observe(measured);
        _health.StepSucceeded(measured);
        _dispatcher.Apply(Slot, plan, result, measured);
    }

    /// <summary>Down: ask it again after a backoff; its requests run on the other workers meanwhile.</summary>
    private async Task ProbeAsync(CancellationToken waits)
    {
        try
        {
            await _session.DescribeAsync(_health.CallTimeout, waits).ConfigureAwait(false);
            _health.Answered();
            SetReady(true);
        }
        catch (WorkerCallException)
        {
            _health.Failed();
            SetReady(false);
            await BackoffAsync(waits).ConfigureAwait(false);
        }
    }

    private async Task BackoffAsync(CancellationToken waits)
    {
        try
        {
            await Task.Delay(_health.Backoff, _clock.TimeProvider, waits).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (Retired)
        {
            // Left the pool while backing off: the loop decides at once whether it may end.
        }
    }

    private void SetReady(bool ready)
    {
        _ready = ready;
        _dispatcher.SetReady(Slot, ready, _health.Failures);
        _gauges.Ready(Name, ready);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "worker {Worker} did not answer Describe (attempt {Attempt}): {Detail}")]
    private partial void LogDescribeFailed(string worker, int attempt, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "worker {Worker} failed a Step ({Fault}): {Detail}; its requests resume elsewhere")]
    private partial void LogStepFailed(string worker, WorkerFault fault, string detail);

    [LoggerMessage(Level = LogLevel.Debug, Message = "worker {Worker} failed a Release: {Detail}")]
    private partial void LogReleaseFailed(string worker, string detail);

    [LoggerMessage(Level = LogLevel.Critical, Message = "the loop of worker {Worker} ended on an unexpected error; the worker is taken out of the pool")]
    private partial void LogLoopDied(Exception error, string worker);
}
