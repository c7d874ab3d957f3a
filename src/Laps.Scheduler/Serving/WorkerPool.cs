using Laps.Scheduler.Api;
using Laps.Scheduler.Discovery;
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
    NoWorkers,
}

/// <summary>
/// The workers' loops, admission control and routing. Thread-safe: HTTP handlers call <see cref="TryAdmit"/> and
/// <see cref="Cancel"/> concurrently; each loop owns its requests after admission. The set of workers follows
/// discovery: a new worker gets a loop, and one that leaves hands its requests to the others (recomputed) and its
/// loop ends once it holds nothing.
/// </summary>
public sealed partial class WorkerPool
{
    private readonly SchedulerOptions _options;
    private readonly SchedulerClock _clock;
    private readonly IWorkerClientFactory _clients;
    private readonly ILengthPredictor _predictor;
    private readonly SchedulerMetrics _metrics;
    private readonly ITokenizer _tokenizer;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<WorkerPool> _logger;
    private readonly Lock _admission = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _running = [];

    // Routable loops, and every loop still running (routable plus retiring): arrays replaced under _admission.
    private WorkerLoop[] _loops;
    private WorkerLoop[] _all;
    private CancellationToken _stopping;
    private bool _started;
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
        _clients = clients;
        _metrics = metrics;
        _tokenizer = tokenizer;
        _loggers = loggers;
        _logger = loggers.CreateLogger<WorkerPool>();

        // One predictor for all loops (an online learner learns from every worker's completions), capped per request.
        _predictor = new MaxTokensCapPredictor(new SharedLengthPredictor(predictor, metrics));
        _loops = [.. _options.Workers.Select(NewLoop)];
        _all = _loops;
    }

    /// <summary>The loops that take new requests now.</summary>
    internal IReadOnlyList<WorkerLoop> Loops => Volatile.Read(ref _loops);

    /// <summary>
    /// Runs every loop, and follows <paramref name="discovery"/>'s worker set, until stopped; then waits for the loops
    /// to end (they fail what they still hold with a shutdown error).
    /// </summary>
    public async Task RunAsync(IWorkerDiscovery discovery, CancellationToken stoppingToken)
    {
        lock (_admission)
        {
            _stopping = stoppingToken;
            _started = true;
            foreach (var loop in _loops)
            {
                Start(loop);
            }
        }

        try
        {
            await discovery.RunAsync(SetWorkers, stoppingToken).ConfigureAwait(false);
            await Task.Delay(Timeout.InfiniteTimeSpan, _clock.TimeProvider, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        Task[] running;
        lock (_admission)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>The workers now: new addresses get a loop, missing ones retire (their requests move to the others).</summary>
    internal void SetWorkers(IReadOnlyCollection<string> addresses)
    {
        lock (_admission)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            var current = _loops.ToDictionary(l => l.Name, StringComparer.Ordinal);
            var next = new List<WorkerLoop>(addresses.Count);
            foreach (var address in addresses)
            {
                if (current.Remove(address, out var kept))
                {
                    next.Add(kept);
                }
                else if (WorkerAddress.TryParse(address, out _))
                {
                    var loop = NewLoop(address);
                    next.Add(loop);
                    LogWorkerJoined(address);
                    if (_started)
                    {
                        Start(loop);
                    }
                }
                else
                {
                    LogBadAddress(address);
                }
            }

            Volatile.Write(ref _loops, [.. next]);
            foreach (var gone in current.Values)
            {
                LogWorkerLeft(gone.Name, gone.Held);
                gone.Retire();
            }

            Volatile.Write(ref _all, [.. _all.Where(l => l.Retired), .. next]);
            WorkersChanged?.Invoke([.. next.Select(l => l.Name)]);
        }

        RequestLeft();
    }

    private WorkerLoop NewLoop(string address)
        => new(address, _clients.Create(address), _options, _predictor, _metrics, _clock, _tokenizer, _loggers.CreateLogger<WorkerLoop>(), RequestLeft, Migrate);

    // Called under _admission.
    private void Start(WorkerLoop loop)
    {
        var stopping = _stopping;
        loop.Run = Task.Run(
            async () =>
            {
                try
                {
                    await loop.RunAsync(stopping).ConfigureAwait(false);
                }
                finally
                {
                    Ended(loop);
                }
            },
            CancellationToken.None);
        _running.Add(loop.Run);
    }

    private void Ended(WorkerLoop loop)
    {
        lock (_admission)
        {
            _running.Remove(loop.Run);
            Volatile.Write(ref _all, [.. _all.Where(l => l != loop)]);
            if (loop.Retired && !_loops.Any(l => l.Name == loop.Name))
            {
                _metrics.Forget(loop.Name); // a worker that left the pool leaves no stale series behind
            }
        }
    }

    /// <summary>Raised (under the admission lock) with the routable workers after discovery changed them: a hook for tests.</summary>
    internal event Action<IReadOnlyList<string>>? WorkersChanged;

    /// <summary>Raised (under the admission lock) once a request is in its loop's inbox: a hook for diagnostics and tests.</summary>
    internal event Action<LiveRequest>? Admitted;

    public bool Accepting => _accepting;

    /// <summary>Ready for traffic: admitting, and at least one worker answered Describe.</summary>
    public bool Ready => _accepting && Loops.Any(l => l.Ready);

    /// <summary>Requests admitted and not yet finished, on every worker (leaving ones included).</summary>
    public int Held => Volatile.Read(ref _all).Sum(l => l.Held);

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
            foreach (var loop in _all)
            {
                waiting += Math.Max(0, loop.Held - loop.Running);
            }

            if (waiting >= _options.MaxQueued)
            {
                return AdmissionResult.QueueFull;
            }

            if (_loops.Length == 0)
            {
                return AdmissionResult.NoWorkers;
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

    [LoggerMessage(Level = LogLevel.Information, Message = "worker {Worker} joined the pool")]
    private partial void LogWorkerJoined(string worker);

    [LoggerMessage(Level = LogLevel.Information, Message = "worker {Worker} left the pool; its {Held} requests move to the others")]
    private partial void LogWorkerLeft(string worker, int held);

    [LoggerMessage(Level = LogLevel.Warning, Message = "discovery reported '{Address}', which is not a host:port address; ignored")]
    private partial void LogBadAddress(string address);
}
