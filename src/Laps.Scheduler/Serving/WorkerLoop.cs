using System.Threading.Channels;
using Grpc.Core;
using Laps.Scheduler.Api;
using Laps.Scheduler.Observability;
using Laps.Scheduling;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Scheduler.Serving;

/// <summary>
/// The scheduling loop of one worker. It alone owns that worker's <see cref="BatchScheduler"/> and the
/// <see cref="LiveRequest"/>s routed to it (the core is not thread-safe): other threads only post commands (admit,
/// cancel) into its channel. Each iteration admits what arrived, takes one decision, runs one SD step of the chosen
/// batch on the worker, applies the reports and releases the worker state of requests that left. Preemption is just
/// not being selected: the worker keeps the KV cache until released or evicted.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage(
    "Reliability", "CA1001", Justification = "_retire has no timer or registration to free; Retire may come after the loop ended")]
internal sealed partial class WorkerLoop
{
    private const int FallbackSpeculationLength = 4;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly SpeculativeWorker.SpeculativeWorkerClient _client;
    private readonly SchedulerOptions _options;
    private readonly ILengthPredictor _predictor;
    private readonly SchedulerMetrics _metrics;
    private readonly SchedulerClock _clock;
    private readonly ITokenizer _tokenizer;
    private readonly ILogger _logger;
    private readonly Action _requestLeft;
    private readonly Func<LiveRequest, WorkerLoop, bool> _migrate;
    private readonly Channel<Command> _commands = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, LiveRequest> _live = new(StringComparer.Ordinal);
    private readonly List<LiveRequest> _batch = [];
    private readonly List<string> _toRelease = [];
    private const int QueuedRecountEveryStep = 1024;
    private static readonly TimeSpan LongQueueRecountPeriod = TimeSpan.FromMilliseconds(250);
    private BatchScheduler? _scheduler;
    private int[] _queuedByLevel = new int[1];
    private long _levelsCountedAt;
    private int _held;
    private int _running;
    private int _perceptible;
    private int _probeFailures;
    private readonly TaskCompletionSource _described = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _retire = new();
    private volatile bool _ready;

    public WorkerLoop(
        string name,
        SpeculativeWorker.SpeculativeWorkerClient client,
        SchedulerOptions options,
        ILengthPredictor predictor,
        SchedulerMetrics metrics,
        SchedulerClock clock,
        ITokenizer tokenizer,
        ILogger logger,
        Action requestLeft,
        Func<LiveRequest, WorkerLoop, bool> migrate)
    {
        Name = name;
        _client = client;
        _options = options;
        _predictor = predictor;
        _metrics = metrics;
        _clock = clock;
        _tokenizer = tokenizer;
        _logger = logger;
        _requestLeft = requestLeft;
        _migrate = migrate;
    }

    public string Name { get; }

    /// <summary>The worker answered Describe and its last Step (if any) succeeded.</summary>
    public bool Ready => _ready;

    /// <summary>Requests routed here and not yet finished, cancelled or failed (read from any thread).</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Requests in the current step's batch (read from any thread).</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Completes when the worker first answered Describe.</summary>
    public Task Described => _described.Task;

    /// <summary>The worker's description, once it answered.</summary>
    public WorkerDescription? Description { get; private set; }

    public void Enqueue(LiveRequest request)
    {
        request.Loop = this;
        Interlocked.Increment(ref _held);
        if (!_commands.Writer.TryWrite(new Command(request, Cancel: false)))
        {
            Interlocked.Decrement(ref _held);
            throw new InvalidOperationException("the worker loop has stopped");
        }
    }

    /// <summary>The loop's run, as the pool started it (completes once the pool forgot the loop).</summary>
    public Task Run { get; set; } = Task.CompletedTask;

    /// <summary>The worker left the pool (set by <see cref="Retire"/>): no new requests come here.</summary>
    public bool Retired => _retire.IsCancellationRequested;

    /// <summary>
    /// The worker left the pool: at the next step boundary the loop hands its requests to the other workers (they
    /// recompute the prefix), keeps serving those no other worker can take, and ends once it holds nothing.
    /// </summary>
    public void Retire() => _retire.Cancel();

    /// <summary>The client went away: the loop drops the request at its next step boundary.</summary>
    public void Cancel(LiveRequest request) => _commands.Writer.TryWrite(new Command(request, Cancel: true));

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        // Waits (describe, probe, backoff, idle) also end when the worker leaves the pool; calls in flight do not.
        using var waits = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _retire.Token);
        _metrics.WorkerReady.WithLabels(Name).Set(0);
        try
        {
            await DescribeAsync(waits.Token).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                DrainCommands();
                if (Retired && HandOff() == 0)
                {
                    break;
                }

                await ReleaseAsync(stoppingToken).ConfigureAwait(false);
                if (_scheduler!.Pending == 0)
                {
                    PublishGauges(0);
                    if (!_ready)
                    {
                        // Down and idle (its requests moved elsewhere): probe it so it can take traffic again.
                        await ProbeAsync(waits.Token).ConfigureAwait(false);
                        continue;
                    }

                    if (!await _commands.Reader.WaitToReadAsync(waits.Token).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                await StepAsync(stoppingToken, waits.Token).ConfigureAwait(false);
                await ReleaseAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested || Retired)
        {
        }
        catch (RpcException e) when (stoppingToken.IsCancellationRequested && e.StatusCode == StatusCode.Cancelled)
        {
        }
        finally
        {
            if (stoppingToken.IsCancellationRequested)
            {
                _commands.Writer.TryComplete();
                FailAll("the scheduler is shutting down", RejectReason.ShuttingDown);
            }
            else
            {
                HandOff(); // retired: whatever arrived meanwhile goes to the others
                _commands.Writer.TryComplete();
                FailAll($"worker {Name} left the pool and no other worker could take the request", RejectReason.WorkerError);
            }

            PublishGauges(0);
        }
    }

    /// <summary>
    /// Moves every request this loop holds to another ready worker, which recomputes its prefix; returns how many
    /// stay because no other worker is ready (this loop keeps serving them).
    /// </summary>
    private int HandOff()
    {
        DrainCommands();
        foreach (var request in _live.Values.ToList())
        {
            var admitted = _scheduler?.Policy.Contains(request.State) == true;
            if (admitted)
            {
                _scheduler!.Cancel(request.State);
            }

            Detach(request);
            if (_migrate(request, this))
            {
                _live.Remove(request.SequenceId);
                _metrics.Migrated.Inc();
                Interlocked.Decrement(ref _held);
            }
            else if (admitted)
            {
                _scheduler!.Admit(request.State);
            }
        }

        return _live.Count;
    }

    private async Task DescribeAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var description = await _client.DescribeAsync(new DescribeRequest(), deadline: Deadline(), cancellationToken: stoppingToken)
                    .ConfigureAwait(false);
                Description = description;
                _scheduler = CreateScheduler(description);
                _ready = true;
                _described.TrySetResult();
                LogDescribed(Name, description.WorkerId, description.SpeculationLength, _scheduler.MaxBatch, _scheduler.Policy.Context.StepSeconds);
                return;
            }
            catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
            {
                LogDescribeFailed(Name, attempt, e.Status.Detail);
                await Task.Delay(Backoff(attempt), _clock.TimeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private BatchScheduler CreateScheduler(WorkerDescription description)
    {
        var k = description.SpeculationLength > 0 ? description.SpeculationLength : FallbackSpeculationLength;
        var batch = description.MaxBatch > 0 ? Math.Min(_options.Batch, description.MaxBatch) : _options.Batch;
        var stepSeconds = _options.StepSeconds > 0 ? _options.StepSeconds : ReferenceStepSeconds(description.StepTime, k, batch);
        var context = new PolicyContext(k, stepSeconds, _options.PriorAcceptance);
        var policy = PolicyCatalog.Create(_options.Policy, context, _options.PolicySettings);
        return new BatchScheduler(policy, _predictor, batch);
    }

    /// <summary>The worker's step-time profile at B sequences of the reference context, else the built-in H100 model.</summary>
    private double ReferenceStepSeconds(StepTimeProfile? profile, int k, int batch)
    {
        var kv = (double)batch * _options.ReferenceContextTokens;
        if (profile is not null)
        {
            var seconds = profile.VerifyFixedS + (profile.VerifyPerTokenS * batch * (k + 1)) + (profile.VerifyPerKvTokenS * kv)
                          + profile.DraftFixedS + (profile.DraftPerTokenS * batch * k) + (profile.DraftPerKvTokenS * kv) + profile.OverheadS;
            if (seconds > 0 && double.IsFinite(seconds))
            {
                return seconds;
            }
        }

        return StepTimeModel.H100Llama8B.StepSeconds(ProposerKind.Eagle, k, batch, 0, (long)kv);
    }

    private void DrainCommands()
    {
        while (_commands.Reader.TryRead(out var command))
        {
            var request = command.Request;
            if (!command.Cancel)
            {
                _live.Add(request.SequenceId, request);
                _scheduler?.Admit(request.State); // none when the worker left before it ever answered: handed off as is
                continue;
            }

            if (_live.Remove(request.SequenceId))
            {
                if (_scheduler?.Policy.Contains(request.State) == true)
                {
                    _scheduler.Cancel(request.State);
                }

                Left(request);
                request.EventWriter.TryComplete(new OperationCanceledException("the client went away"));
            }
        }
    }

    private async Task StepAsync(CancellationToken stoppingToken, CancellationToken waits)
    {
        var decision = _scheduler!.Decide();
        if (decision.Preempted.Count > 0)
        {
            _metrics.Preemptions.WithLabels(Name).Inc(decision.Preempted.Count);
        }

        var now = _clock.Now;
        var step = new StepRequest { Steps = 1 };
        _batch.Clear();
        foreach (var state in decision.Selected)
        {
            var request = _live[LiveRequest.SequenceIdFor(state.Id)];
            _batch.Add(request);
            if (!request.EverSelected)
            {
                request.EverSelected = true;
                _metrics.QueueWait.Observe(Math.Max(0, now - state.ArrivalTime));
            }

            var input = new SequenceInput { SequenceId = request.SequenceId, MaxTokens = request.MaxTokens, Seed = request.Seed };
            if (!request.Resident)
            {
                // New, evicted, or the worker restarted: it needs the prefix to prefill (or recompute).
                input.PromptTokenIds.AddRange(request.PromptTokenIds);
                input.GeneratedTokenIds.AddRange(request.GeneratedTokenIds);
            }

            step.Batch.Add(input);
        }

        PublishGauges(_batch.Count);
        if (_batch.Count == 0)
        {
            // Nothing runnable (cannot happen with the catalog's policies): wait for news rather than spin.
            await _commands.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false);
            return;
        }

        var started = _clock.TimeProvider.GetTimestamp();
        StepResponse response;
        try
        {
            response = await _client.StepAsync(step, deadline: Deadline(), cancellationToken: stoppingToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
        {
            await StepFailedAsync(e, waits).ConfigureAwait(false);
            return;
        }

        var measured = _clock.TimeProvider.GetElapsedTime(started).TotalSeconds;
        _metrics.StepDuration.WithLabels(Name).Observe(measured);
        _ready = true;
        Apply(response, measured);
    }

    private void Apply(StepResponse response, double measuredSeconds)
    {
        // Attained service is GPU time: the worker's own account of the step when it gives one, else the round trip.
        var stepSeconds = response.ElapsedS > 0 && double.IsFinite(response.ElapsedS) ? response.ElapsedS : measuredSeconds;
        var now = _clock.Now;
        foreach (var evicted in response.EvictedSequenceIds)
        {
            if (_live.TryGetValue(evicted, out var request))
            {
                request.Resident = false;
            }
        }

        foreach (var output in response.Outputs)
        {
            if (!_live.TryGetValue(output.SequenceId, out var request) || !_batch.Contains(request))
            {
                continue; // not a sequence of this batch: nothing to record
            }

            request.ConsecutiveFailures = 0;
            request.Resident = !response.EvictedSequenceIds.Contains(output.SequenceId);
            var emitted = output.TokenIds.Count;
            var drafted = Math.Max(0, output.Drafted);
            var accepted = Math.Clamp(output.Accepted, 0, drafted);
            var state = request.State;
            var hadToken = state.FirstTokenTime is not null;
            _scheduler!.RecordStep(state, emitted, drafted, accepted, stepSeconds, now);
            request.GeneratedTokenIds.AddRange(output.TokenIds);
            request.Drafted += drafted;
            request.Accepted += accepted;
            _metrics.DraftedTokens.WithLabels(Name).Inc(drafted);
            _metrics.AcceptedTokens.WithLabels(Name).Inc(accepted);
            if (state.Perceptible && !request.CountedPerceptible)
            {
                request.CountedPerceptible = true;
                _perceptible++;
            }

            if (emitted > 0)
            {
                _metrics.GeneratedTokens.WithLabels(Name).Inc(emitted);
                if (!hadToken)
                {
                    _metrics.TimeToFirstToken.Observe(Math.Max(0, now - state.ArrivalTime));
                }

                var text = output.Text.Length > 0 ? output.Text : _tokenizer.Decode(output.TokenIds);
                request.EventWriter.TryWrite(new TokensEmitted(text, emitted));
            }

            if (output.Finished || state.Generated >= request.MaxTokens)
            {
                Finish(request, output.FinishReason == FinishReason.Stop ? "stop" : "length", now);
            }
        }
    }

    private void Finish(LiveRequest request, string finishReason, double now)
    {
        var state = request.State;
        _scheduler!.Finish(state, now);
        _live.Remove(request.SequenceId);
        Left(request);
        _metrics.RequestDuration.Observe(Math.Max(0, now - state.ArrivalTime));
        if (request.Drafted > 0)
        {
            _metrics.RequestAcceptance.Observe((double)request.Accepted / request.Drafted);
        }

        // As the simulator measures it: the estimate when the request became perceptible against the steps it took since.
        if (state.EstimateAtPerceptible is double estimate)
        {
            var actual = (state.Steps - state.StepsAtPerceptible) * _scheduler.Policy.Context.StepSeconds;
            if (actual > 0)
            {
                _metrics.EstimateError.Observe(Math.Abs(estimate - actual) / actual);
            }
        }

        request.EventWriter.TryWrite(new RequestFinished(
            finishReason, state.PromptTokens, state.Generated, request.Drafted, request.Accepted, state.Preemptions));
        request.EventWriter.TryComplete();
    }

    private async Task StepFailedAsync(RpcException e, CancellationToken stoppingToken)
    {
        _ready = false;
        LogStepFailed(Name, e.StatusCode, e.Status.Detail);

        // The worker may have restarted and lost every sequence: send prefixes again (it ignores them for ones it holds).
        foreach (var request in _live.Values)
        {
            request.Resident = false;
        }

        var worst = 0;
        foreach (var request in _batch)
        {
            worst = Math.Max(worst, ++request.ConsecutiveFailures);
        }

        if (worst >= _options.MaxStepFailures)
        {
            // The worker is down: every request it held resumes on another worker, which recomputes its prefix
            // (prompt and the tokens already streamed), so nothing is lost or answered twice.
            _probeFailures = 0;
            foreach (var request in _live.Values.ToList())
            {
                _live.Remove(request.SequenceId);
                _scheduler!.Cancel(request.State);
                request.ConsecutiveFailures = 0;
                Detach(request);
                if (_migrate(request, this))
                {
                    _metrics.Migrated.Inc();
                    Interlocked.Decrement(ref _held);
                    continue;
                }

                Left(request);
                _metrics.Rejected.WithLabels(RejectReason.WorkerError).Inc();
                request.EventWriter.TryComplete(new RequestFailedException($"worker {Name} failed: {e.StatusCode}", RejectReason.WorkerError));
            }

            return;
        }

        await Task.Delay(Backoff(worst), _clock.TimeProvider, stoppingToken).ConfigureAwait(false);
    }

    private async Task ProbeAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _client.DescribeAsync(new DescribeRequest(), deadline: Deadline(), cancellationToken: stoppingToken).ConfigureAwait(false);
            _ready = true;
            _probeFailures = 0;
        }
        catch (RpcException) when (!stoppingToken.IsCancellationRequested)
        {
            // Still down; new requests go to ready workers meanwhile, and a command wakes the loop early.
            var wait = Task.Delay(Backoff(++_probeFailures), _clock.TimeProvider, stoppingToken);
            await Task.WhenAny(wait, _commands.Reader.WaitToReadAsync(stoppingToken).AsTask()).ConfigureAwait(false);
            stoppingToken.ThrowIfCancellationRequested();
        }
    }

    private async Task ReleaseAsync(CancellationToken stoppingToken)
    {
        if (_toRelease.Count == 0)
        {
            return;
        }

        var release = new ReleaseRequest();
        release.SequenceIds.AddRange(_toRelease);
        _toRelease.Clear();
        try
        {
            await _client.ReleaseAsync(release, deadline: Deadline(), cancellationToken: stoppingToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
        {
            // Release is best effort: the worker evicts what it must anyway, and a restarted one holds nothing.
            LogReleaseFailed(Name, e.StatusCode);
        }
    }

    /// <summary>Bookkeeping when a request leaves this loop (finished, cancelled or failed).</summary>
    private void Left(LiveRequest request)
    {
        if (request.Resident)
        {
            _toRelease.Add(request.SequenceId);
            request.Resident = false;
        }

        if (request.CountedPerceptible)
        {
            request.CountedPerceptible = false;
            _perceptible--;

            // Before the request's last event: a scrape after the response sees it gone.
            _metrics.Perceptible.WithLabels(Name).Set(_perceptible);
        }

        Interlocked.Decrement(ref _held);
        _requestLeft();
    }

    /// <summary>
    /// Drops this loop's view of a request before another loop may take it: once enqueued there, that loop's thread
    /// reads and writes these fields. A request that stays (no other worker) resends its prefix and is counted
    /// perceptible again at its next step.
    /// </summary>
    private void Detach(LiveRequest request)
    {
        request.Resident = false;
        if (request.CountedPerceptible)
        {
            request.CountedPerceptible = false;
            _perceptible--;
            _metrics.Perceptible.WithLabels(Name).Set(_perceptible);
        }
    }

    private void FailAll(string message, string reason)
    {
        while (_commands.Reader.TryRead(out var command))
        {
            if (!command.Cancel)
            {
                _live.TryAdd(command.Request.SequenceId, command.Request); // failed below with the admitted ones
            }
        }

        foreach (var request in _live.Values)
        {
            if (_scheduler?.Policy.Contains(request.State) == true)
            {
                _scheduler.Cancel(request.State);
            }

            request.Resident = false; // the process is going away; the worker reclaims on its own
            Left(request);
            _metrics.Rejected.WithLabels(reason).Inc();
            request.EventWriter.TryComplete(new RequestFailedException(message, reason));
        }

        _live.Clear();
    }

    private void PublishGauges(int running)
    {
        Volatile.Write(ref _running, running);
        _metrics.Running.WithLabels(Name).Set(running);
        _metrics.Perceptible.WithLabels(Name).Set(_perceptible);
        _metrics.WorkerReady.WithLabels(Name).Set(_ready ? 1 : 0);
        PublishQueuedByLevel();
    }

    /// <summary>
    /// Waiting requests per queue level. Levels move with every step, so this counts them afresh: every step while
    /// the queue is short, at most every 250 ms once it is long (counting 10,000 requests costs about as much as a
    /// step's scheduling work; a scrape every few seconds cannot tell the difference).
    /// </summary>
    private void PublishQueuedByLevel()
    {
        var pending = _scheduler?.Pending ?? 0;
        var now = _clock.TimeProvider.GetTimestamp();
        if (pending > QueuedRecountEveryStep && _clock.TimeProvider.GetElapsedTime(_levelsCountedAt, now) < LongQueueRecountPeriod)
        {
            return;
        }

        _levelsCountedAt = now;
        Array.Clear(_queuedByLevel);
        if (pending > 0)
        {
            var policy = _scheduler!.Policy;
            foreach (var request in _live.Values)
            {
                if (request.State.Running)
                {
                    continue;
                }

                var level = policy.QueueLevel(request.State);
                if (level >= _queuedByLevel.Length)
                {
                    Array.Resize(ref _queuedByLevel, level + 1);
                }

                _queuedByLevel[level]++;
            }
        }

        // Level 0 always has a series, so "nothing queued" reads 0 rather than no data.
        for (var level = 0; level < _queuedByLevel.Length; level++)
        {
            _metrics.Queued.WithLabels(Name, LevelLabels.For(level)).Set(_queuedByLevel[level]);
        }
    }

    private DateTime Deadline() => _clock.TimeProvider.GetUtcNow().UtcDateTime + _options.StepTimeout;

    private TimeSpan Backoff(int attempt)
        => TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, _options.RetryBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 16))));

    [LoggerMessage(Level = LogLevel.Information, Message = "worker {Worker} is {WorkerId}: k={K}, batch {Batch}, reference step {StepSeconds} s")]
    private partial void LogDescribed(string worker, string workerId, int k, int batch, double stepSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "worker {Worker} did not answer Describe (attempt {Attempt}): {Detail}")]
    private partial void LogDescribeFailed(string worker, int attempt, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "worker {Worker} failed a Step: {Status} {Detail}")]
    private partial void LogStepFailed(string worker, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Debug, Message = "worker {Worker} failed a Release: {Status}")]
    private partial void LogReleaseFailed(string worker, StatusCode status);

    private readonly record struct Command(LiveRequest Request, bool Cancel);
}
