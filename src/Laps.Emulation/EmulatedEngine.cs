using Laps.Scheduling.Estimation;
using Laps.Worker;
using Laps.Worker.Sim;

namespace Laps.Emulation;

/// <summary>Counters and gauges an emulated engine exports (each engine under its own metric names).</summary>
public sealed record EngineStats(
    int Running,
    int Waiting,
    long KvTokens,
    long KvCapacity,
    long PrefixQueries,
    long PrefixHits,
    long Drafts,
    long DraftTokens,
    long AcceptedTokens,
    long PromptTokens,
    long GenerationTokens);

/// <summary>
/// An engine's scheduler and model loop, emulated: continuous batching (every step admits waiting requests, FCFS, up to
/// the batch cap, and runs one SD step for every running request), a prefix cache whose hits shorten prefill, and the
/// sim engine's model for what each step emits and how long it takes (divided by the time scale). The prefill step
/// samples one token; later steps emit accepted drafts + 1. Aborted requests leave at the next step. Thread-safe:
/// submit and abort from any thread; one loop runs the steps.
/// </summary>
public sealed class EmulatedEngine : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly EmulatorOptions _options;
    private readonly SimEngine _sim;
    private readonly TimeProvider _time;
    private readonly PrefixCache _cache;
    private readonly ContinuationIndex _continuations = new();
    private readonly LinkedList<EmulatedRequest> _waiting = new();
    private readonly List<EmulatedRequest> _running = [];
    private readonly StepPacer _pacer = new(TimeSpan.FromMilliseconds(50));
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _work = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _disposed;
    private long _nextSimId;
    private long _prefixQueries;
    private long _prefixHits;
    private long _drafts;
    private long _draftTokens;
    private long _accepted;
    private long _promptTokens;
    private long _generationTokens;

    public EmulatedEngine(EmulatorOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _options = options;
        _time = time;
        var model = options.Model with
        {
            MaxBatch = Math.Min(options.MaxRunning, 4096),
            MaxStepsPerCall = 1,
            KvCapacityTokens = long.MaxValue / 4,
            PrefillStepDecodes = false,
        };
        _sim = new SimEngine(model, AcceptanceSource.Load(model.Workload, model.FallbackProfile, model.Proposer));
        _cache = new PrefixCache(options.BlockSize, options.PrefixCacheTokens);
    }

    public EmulatorOptions Options => _options;

    /// <summary>SGLang answers 503 while loading; vLLM's port is closed then (the host does not listen yet).</summary>
    public bool Loading { get; set; }

    /// <summary>Engine steps run so far.</summary>
    public long StepsRun { get; private set; }

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    public EmulatedRequest Submit(string id, int[] prompt, int maxTokens, ulong seed, IReadOnlyList<string> stop, IReadOnlyList<int> stopTokenIds, int minTokens)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var request = new EmulatedRequest(id, prompt, maxTokens, seed, stop, stopTokenIds, minTokens);
        lock (_lock)
        {
            _waiting.AddLast(request);
        }

        Signal();
        return request;
    }

    /// <summary>Aborts every waiting or running request whose id starts with <paramref name="prefix"/> (SGLang's rule); returns how many.</summary>
    public int AbortByPrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var count = 0;
        lock (_lock)
        {
            foreach (var request in _waiting.Concat(_running))
            {
                if (request.Id.StartsWith(prefix, StringComparison.Ordinal) && !request.Aborted)
                {
                    request.Abort();
                    count++;
                }
            }
        }

        Signal();
        return count;
    }

    public void Abort(EmulatedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Abort();
        Signal();
    }

    public EngineStats Stats
    {
        get
        {
            lock (_lock)
            {
                return new EngineStats(_running.Count, _waiting.Count, _running.Sum(r => (long)r.Prompt.Length + r.Output.Count),
                    Math.Max(1, _options.PrefixCacheTokens), _prefixQueries, _prefixHits, _drafts, _draftTokens, _accepted, _promptTokens, _generationTokens);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
    }

    private void Signal()
    {
        TaskCompletionSource work;
        lock (_lock)
        {
            work = _work;
            _work = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        work.TrySetResult();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var (batch, work) = Schedule();
            if (batch.Count == 0)
            {
                await work.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var outcome = _sim.Step([.. batch.Select(b => b.Sim)], 1);
            var modelled = TimeSpan.FromSeconds(outcome.ModelSeconds / _options.Model.TimeScale);
            var sleep = _pacer.SleepFor(modelled);
            if (sleep > TimeSpan.Zero)
            {
                var slept = _time.GetTimestamp();
                await Task.Delay(sleep, _time, cancellationToken).ConfigureAwait(false);
                _pacer.Slept(sleep, _time.GetElapsedTime(slept));
            }
            else
            {
                await Task.Yield();
            }

            Publish(batch, outcome);
        }
    }

    private (List<(EmulatedRequest Request, SequenceRequest Sim)> Batch, Task Work) Schedule()
    {
        lock (_lock)
        {
            var work = _work.Task;
            for (var i = _running.Count - 1; i >= 0; i--)
            {
                if (_running[i].Aborted)
                {
                    Finish(_running[i], EmulatedFinish.Abort, "aborted");
                    _running.RemoveAt(i);
                }
            }

            for (var node = _waiting.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Aborted)
                {
                    node.Value.Dropped = true;
                    node.Value.Emit(new StepEmission([], string.Empty, 0, false, EmulatedFinish.Abort, "aborted"));
                    _waiting.Remove(node);
                }

                node = next;
            }

            var batch = new List<(EmulatedRequest, SequenceRequest)>();
            foreach (var request in _running)
            {
                batch.Add((request, SequenceRequest.Held(request.SimId, request.OriginTotal())));
            }

            while (_running.Count < _options.MaxRunning && _waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                var request = first.Value;
                Admit(request);
                _running.Add(request);
                var origin = request.Prompt[..request.OriginLength];
                var generated = request.Prompt[request.OriginLength..];
                batch.Add((request, new SequenceRequest(request.SimId, origin, generated, request.OriginTotal(), request.OriginSeed, request.CachedTokens)));
            }

            return (batch, work);
        }
    }

    // Under the lock.
    private void Admit(EmulatedRequest request)
    {
        request.Admitted = true;
        request.SimId = "r" + (++_nextSimId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        request.CachedTokens = _cache.Match(request.Prompt);
        _prefixQueries += request.Prompt.Length;
        _prefixHits += request.CachedTokens;
        _promptTokens += request.Prompt.Length;
        if (_continuations.Find(request.Prompt) is { } origin)
        {
            request.OriginLength = origin.OriginLength;
            request.OriginSeed = origin.Seed;
        }
        else
        {
            request.OriginLength = request.Prompt.Length;
            request.OriginSeed = request.Seed;
        }

        request.ContextHash = ContinuationIndex.HashOf(request.Prompt);
        _cache.Insert(request.Prompt);
    }

    private void Publish(List<(EmulatedRequest Request, SequenceRequest Sim)> batch, StepOutcome outcome)
    {
        lock (_lock)
        {
            StepsRun++;
            for (var i = 0; i < batch.Count; i++)
            {
                var request = batch[i].Request;
                var result = outcome.Outputs[i];
                if (request.Dropped)
                {
                    continue;
                }

                var tokens = new List<int>();
                var text = new System.Text.StringBuilder();
                var finish = result.Finish switch
                {
                    SequenceFinish.Stop => EmulatedFinish.Stop,
                    SequenceFinish.Length => EmulatedFinish.Length,
                    _ => EmulatedFinish.None,
                };
                string? matched = null;
                foreach (var token in result.TokenIds)
                {
                    tokens.Add(token);
                    request.Output.Add(token);
                    request.ContextHash = ContinuationIndex.Extend(request.ContextHash, token);
                    _continuations.Remember(request.ContextHash, new ContinuationIndex.Entry(request.OriginLength, request.Prompt.Length + request.Output.Count, request.OriginSeed));
                    var stopsAllowed = request.Output.Count >= request.MinTokens;
                    if (stopsAllowed && request.StopTokenIds.Contains(token))
                    {
                        finish = EmulatedFinish.Stop;
                        matched = token.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        break;
                    }

                    var piece = request.Stop.Append(SimVocabulary.Text(token));
                    text.Append(piece);
                    if (stopsAllowed && request.Stop.Stopped)
                    {
                        finish = EmulatedFinish.Stop;
                        matched = request.Stop.Matched;
                        break;
                    }
                }

                if (finish != EmulatedFinish.None && !request.Stop.Stopped)
                {
                    text.Append(request.Stop.Flush());
                }

                request.Generated = request.Output.Count;
                var verified = result.Drafted > 0;
                if (verified)
                {
                    request.VerifySteps++;
                    request.DraftTokens += result.Drafted;
                    request.AcceptedDrafts += Math.Min(result.Accepted, Math.Max(0, tokens.Count - 1));
                    _drafts++;
                    _draftTokens += result.Drafted;
                    _accepted += Math.Min(result.Accepted, Math.Max(0, tokens.Count - 1));
                }

                _generationTokens += tokens.Count;
                request.Emit(new StepEmission([.. tokens], text.ToString(), verified ? Math.Min(result.Accepted, Math.Max(0, tokens.Count - 1)) : 0, verified, finish, matched));
                if (finish != EmulatedFinish.None)
                {
                    _running.Remove(request);
                    request.Dropped = true;
                    _sim.Release([request.SimId]);
                    _cache.Insert(request.Context());
                }
            }
        }
    }

    // Under the lock: a running request leaves (aborted); its computed KV stays in the prefix cache.
    private void Finish(EmulatedRequest request, EmulatedFinish finish, string detail)
    {
        request.Dropped = true;
        _sim.Release([request.SimId]);
        _cache.Insert(request.Context());
        request.Emit(new StepEmission([], string.Empty, 0, false, finish, detail));
    }
}
