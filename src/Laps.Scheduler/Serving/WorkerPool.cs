using Laps.Scheduler.Api;
using Laps.Scheduler.Observability;
using Laps.Scheduler.Prediction;
using Laps.Scheduling.Prediction;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Serving;

public enum AdmissionResult
{
    Admitted,
    QueueFull,
    ShuttingDown,
}

/// <summary>
/// The workers' loops, admission control and routing. Thread-safe: HTTP handlers call <see cref="TryAdmit"/> and
/// <see cref="Cancel"/> concurrently; each loop owns its requests after admission.
/// </summary>
public sealed class WorkerPool
{
    private readonly SchedulerOptions _options;
    private readonly SchedulerClock _clock;
    private readonly Lock _admission = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly WorkerLoop[] _loops;
    private long _nextId;
    private volatile bool _accepting = true;

    public WorkerPool(
        IOptions<SchedulerOptions> options,
        IWorkerClientFactory clients,
        ILengthPredictor predictor,
        SchedulerMetrics metrics,
        SchedulerClock clock,
        ITokenizer tokenizer,
        ILoggerFactory loggers)
    {
        _options = options.Value;
        _clock = clock;

        // One predictor for all loops (an online learner learns from every worker's completions), capped per request.
        var shared = new MaxTokensCapPredictor(new SharedLengthPredictor(predictor, metrics));
        var logger = loggers.CreateLogger<WorkerLoop>();
        _loops = _options.Workers
            .Select(address => new WorkerLoop(address, clients.Create(address), _options, shared, metrics, clock, tokenizer, logger, RequestLeft, Migrate))
            .ToArray();
    }

    internal IReadOnlyList<WorkerLoop> Loops => _loops;

    /// <summary>Raised (under the admission lock) once a request is in its loop's inbox: a hook for diagnostics and tests.</summary>
    internal event Action<LiveRequest>? Admitted;

    public bool Accepting => _accepting;

    /// <summary>Ready for traffic: admitting, and at least one worker answered Describe.</summary>
    public bool Ready => _accepting && _loops.Any(l => l.Ready);

    /// <summary>Requests admitted and not yet finished, on every worker.</summary>
    public int Held => _loops.Sum(l => l.Held);

    public LiveRequest Create(IReadOnlyList<int> promptTokenIds, int maxTokens, ulong? seed)
    {
        var id = Interlocked.Increment(ref _nextId);
        return new LiveRequest(id, _clock.Now, promptTokenIds, maxTokens, seed ?? (ulong)id);
    }

    /// <summary>
    /// Routes the request to the least-loaded ready worker (any worker while none is ready: it waits for one), unless
    /// the sidecar is stopping or <see cref="SchedulerOptions.MaxQueued"/> requests already wait for a slot.
    /// </summary>
    public AdmissionResult TryAdmit(LiveRequest request)
    {
        lock (_admission)
        {
            if (!_accepting)
            {
                return AdmissionResult.ShuttingDown;
            }

            var waiting = 0;
            foreach (var loop in _loops)
            {
                waiting += Math.Max(0, loop.Held - loop.Running);
            }

            if (waiting >= _options.MaxQueued)
            {
                return AdmissionResult.QueueFull;
            }

            var anyReady = _loops.Any(l => l.Ready);
            WorkerLoop? target = null;
            foreach (var loop in _loops)
            {
                if ((!anyReady || loop.Ready) && (target is null || loop.Held < target.Held))
                {
                    target = loop;
                }
            }

            target!.Enqueue(request);
            Admitted?.Invoke(request);
            return AdmissionResult.Admitted;
        }
    }

    /// <summary>
    /// Moves a request off a worker that went down, to the least-loaded other ready worker; false when there is none
    /// (the caller then fails it). Called from the failing loop, which no longer touches the request afterwards.
    /// </summary>
    private bool Migrate(LiveRequest request, WorkerLoop from)
    {
        lock (_admission)
        {
            WorkerLoop? target = null;
            foreach (var loop in _loops)
            {
                if (loop != from && loop.Ready && (target is null || loop.Held < target.Held))
                {
                    target = loop;
                }
            }

            if (target is null)
            {
                return false;
            }

            target.Enqueue(request);
            return true;
        }
    }

    /// <summary>The client went away: its loop cancels the request and releases its worker state.</summary>
    public void Cancel(LiveRequest request) => request.Loop?.Cancel(request);

    /// <summary>New requests get 503 from now on; admitted ones keep being served.</summary>
    public void StopAccepting()
    {
        lock (_admission)
        {
            _accepting = false;
        }

        RequestLeft();
    }

    /// <summary>Completes when no admitted request is left after <see cref="StopAccepting"/>.</summary>
    public Task Drained => _drained.Task;

    private void RequestLeft()
    {
        if (!_accepting && Held == 0)
        {
            _drained.TrySetResult();
        }
    }
}
