using Laps.Scheduler.Api;
using Laps.Scheduler.Discovery;
using Laps.Scheduler.Observability;
using Laps.Scheduler.Prediction;
using Laps.Scheduler.Serving.Sessions;
using Laps.Scheduling.Prediction;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Serving;

public enum AdmissionResult
{
    Admitted,
    QueueFull,

    /// <summary>The request's tenant already holds its share of the queue while other tenants have work.</summary>
    TenantQueueFull,
    ShuttingDown,
    NoWorkers,
}

/// <summary>
/// The pool's membership and its front door. Workers follow discovery: a new one gets a <see cref="WorkerLoop"/>,
/// one that leaves retires (what it holds moves to the others). Requests are admitted to the <see cref="Dispatcher"/>,
/// which owns them until they finish and gives each worker its next batch. Thread-safe: HTTP handlers call
/// <see cref="TryAdmit"/> and <see cref="Cancel"/> concurrently.
/// </summary>
public sealed partial class WorkerPool
{
    private readonly SchedulerOptions _options;
    private readonly SchedulerClock _clock;
    private readonly IWorkerSessionFactory _sessions;
    private readonly SchedulerMetrics _metrics;
    private readonly ServingGauges _gauges;
    private readonly Dispatcher _dispatcher;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<WorkerPool> _logger;
    private readonly ITokenizer _tokenizer;
    private readonly ProcessIncarnation _incarnation;
    private readonly Lock _membership = new();
    private readonly List<WorkerLoop> _all = [];

    // Routable loops: an array replaced under _membership.
    private WorkerLoop[] _loops;
    private CancellationToken _stopping;
    private bool _started;
    private long _nextId;
    private long _tokenizeTurn;

    public WorkerPool(
        IOptions<SchedulerOptions> options,
        IWorkerSessionFactory sessions,
        ILengthPredictor predictor,
        SchedulerMetrics metrics,
        SchedulerClock clock,
        ITokenizer tokenizer,
        ProcessIncarnation incarnation,
        ILoggerFactory loggers)
    {
        _options = options.Value;
        _incarnation = incarnation;
        _clock = clock;
        _sessions = sessions;
        _metrics = metrics;
        _loggers = loggers;
        _tokenizer = tokenizer;
        _logger = loggers.CreateLogger<WorkerPool>();
        _gauges = new ServingGauges(metrics, clock.TimeProvider);

        // One predictor for the pool (an online learner learns from every worker's completions), capped per request.
        _dispatcher = new Dispatcher(
            _options, new MaxTokensCapPredictor(new SharedLengthPredictor(predictor, metrics)), metrics, _gauges, clock, tokenizer,
            loggers.CreateLogger<Dispatcher>());
        _loops = [.. _options.Workers.Select(NewLoop)];
        _all.AddRange(_loops);
    }

    /// <summary>The loops that take new requests now.</summary>
    internal IReadOnlyList<WorkerLoop> Loops => Volatile.Read(ref _loops);

    /// <summary>
    /// Runs every loop, and follows <paramref name="discovery"/>'s worker set, until stopped; then fails what is left
    /// with a shutdown error and tells each worker to release it.
    /// </summary>
    public async Task RunAsync(IWorkerDiscovery discovery, CancellationToken stoppingToken)
    {
        LogIncarnation(_incarnation.Scheduler, _incarnation.Id);
        lock (_membership)
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

        WorkerLoop[] all;
        lock (_membership)
        {
            all = [.. _all];
        }

        await Task.WhenAll(all.Select(l => l.Run)).ConfigureAwait(false);
        _dispatcher.FailAll("the scheduler is shutting down", RejectReason.ShuttingDown);

        // The workers must not keep (or, after a restart, continue) sequences this process no longer serves.
        using var releases = new CancellationTokenSource(_options.MinStepTimeout);
        await Task.WhenAll(all.Select(l => l.FlushReleasesAsync(releases.Token))).ConfigureAwait(false);
    }

    /// <summary>The workers now: new addresses get a loop, missing ones retire (their requests move to the others).</summary>
    internal void SetWorkers(IReadOnlyCollection<string> addresses)
    {
        lock (_membership)
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
                    _all.Add(loop);
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
                LogWorkerLeft(gone.Name);
                gone.Retire();
            }

            WorkersChanged?.Invoke([.. next.Select(l => l.Name)]);
        }
    }

    private WorkerLoop NewLoop(string address)
        => new(address, _sessions.Create(address), _dispatcher, _options, _metrics, _gauges, _clock, _loggers.CreateLogger<WorkerLoop>());

    // Called under _membership.
    private void Start(WorkerLoop loop)
    {
        var run = loop.Start(_stopping);
        _ = run.ContinueWith(_ => Ended(loop), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Ended(WorkerLoop loop)
    {
        lock (_membership)
        {
            if (loop.Retired && !_loops.Any(l => l.Name == loop.Name))
            {
                _all.Remove(loop);
                _gauges.Forget(loop.Name); // a worker that left the pool leaves no stale series behind
            }
        }
    }

    /// <summary>Raised (under the membership lock) with the routable workers after discovery changed them: a hook for tests.</summary>
    internal event Action<IReadOnlyList<string>>? WorkersChanged;

    /// <summary>Raised once a request is in the pool's queue: a hook for diagnostics and tests.</summary>
    internal event Action<LiveRequest>? Admitted;

    public bool Accepting => _dispatcher.Accepting;

    /// <summary>Ready for traffic: admitting, and at least one worker answers.</summary>
    public bool Ready => _dispatcher.Accepting && Loops.Any(l => l.Ready);

    /// <summary>Requests admitted and not yet finished, on every worker (leaving ones included).</summary>
    public int Held => _dispatcher.Held;

    /// <summary>The most tokens (prompt plus completion) a request may hold on the pool's largest worker; null while unknown.</summary>
    public long? ContextLimit => _dispatcher.ContextLimit;

    public LiveRequest Create(
        IReadOnlyList<int> promptTokenIds, int maxTokens, ulong? seed, SamplingOptions? sampling = null,
        string tenant = Laps.Scheduling.FairShare.DefaultTenant, CancellationToken aborted = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        return new LiveRequest(id, _clock.Now, promptTokenIds, maxTokens, seed ?? (ulong)id, sampling, tenant, aborted);
    }

    /// <summary>
    /// The sampling parameters every described worker honours (by protocol name); null while none has described itself.
    /// </summary>
    public IReadOnlySet<string>? SamplingParameters
    {
        get
        {
            HashSet<string>? honoured = null;
            foreach (var info in Loops.Select(l => l.Info).OfType<WorkerInfo>())
            {
                if (honoured is null)
                {
                    honoured = [.. info.SamplingParameters ?? []];
                }
                else
                {
                    honoured.IntersectWith(info.SamplingParameters ?? []);
                }
            }

            return honoured;
        }
    }

    /// <summary>
    /// Token ids for a prompt or chat messages, with the served model's tokenizer and chat template, asked of a ready
    /// worker. A worker whose engine cannot apply a chat template gets the messages rendered with the stand-in
    /// template; one that predates tokenizing, the sidecar's stand-in tokenizer. Failures are OpenAI-style errors.
    /// </summary>
    public async Task<IReadOnlyList<int>> TokenizeAsync(PromptInput prompt, CancellationToken cancellationToken)
    {
        var ready = Loops.Where(l => l.Ready && l.Info is not null).ToList();
        if (ready.Count == 0)
        {
            throw new ApiException(503, "no worker is available yet; retry later", "server_error", null, "no_workers", RejectReason.NoWorkers);
        }

        var loop = ready[(int)(Interlocked.Increment(ref _tokenizeTurn) % ready.Count)];
        if (string.IsNullOrEmpty(loop.Info!.Tokenizer))
        {
            return _tokenizer.Encode(prompt.Text ?? StandInChat.Render(prompt.Messages!));
        }

        try
        {
            return await loop.Session.TokenizeAsync(prompt, _options.StepTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (WorkerCallException e) when (e.Fault == WorkerFault.Unimplemented && prompt.Messages is { } messages)
        {
            return await TokenizeAsync(new PromptInput(StandInChat.Render(messages), null), cancellationToken).ConfigureAwait(false);
        }
        catch (WorkerCallException e) when (e.Fault == WorkerFault.InvalidArgument)
        {
            throw ApiException.Invalid($"the worker could not tokenize the prompt: {e.Message}", prompt.Messages is null ? "prompt" : "messages");
        }
        catch (WorkerCallException e)
        {
            throw new ApiException(503, $"the worker could not tokenize the prompt; retry later ({e.Message})", "server_error", null, "no_workers", RejectReason.NoWorkers);
        }
    }

    /// <summary>
    /// Queues the request in the pool, unless the sidecar is stopping, <see cref="SchedulerOptions.MaxQueued"/>
    /// requests already wait for a slot (or, with fair share, its tenant's share of them: <see cref="Laps.Scheduling.FairShare"/>),
    /// or no worker can take it (none in the pool, or each failed its last calls).
    /// </summary>
    public AdmissionResult TryAdmit(LiveRequest request)
    {
        var result = _dispatcher.TryAdmit(request);
        if (result == AdmissionResult.Admitted)
        {
            Admitted?.Invoke(request);
        }

        return result;
    }

    /// <summary>The client went away: the request leaves the pool and its worker state is released.</summary>
    public void Cancel(LiveRequest request) => _dispatcher.Cancel(request);

    /// <summary>New requests get 503 from now on; admitted ones keep being served.</summary>
    public void StopAccepting() => _dispatcher.StopAccepting();

    /// <summary>Completes when no admitted request is left after <see cref="StopAccepting"/>.</summary>
    public Task Drained => _dispatcher.Drained;

    [LoggerMessage(Level = LogLevel.Information, Message = "scheduler '{Scheduler}' incarnation {Incarnation} steps the workers: they drop what earlier processes of this name left")]
    private partial void LogIncarnation(string scheduler, string incarnation);

    [LoggerMessage(Level = LogLevel.Information, Message = "worker {Worker} joined the pool")]
    private partial void LogWorkerJoined(string worker);

    [LoggerMessage(Level = LogLevel.Information, Message = "worker {Worker} left the pool; what it holds moves to the others")]
    private partial void LogWorkerLeft(string worker);

    [LoggerMessage(Level = LogLevel.Warning, Message = "discovery reported '{Address}', which is not a host:port address; ignored")]
    private partial void LogBadAddress(string address);
}
