using System.Diagnostics;
using Grpc.Core;
using Laps.Scheduler.Serving;
using Laps.Scheduler.Serving.Sessions;
using Laps.Worker.V1;

namespace Laps.Benchmarks;

/// <summary>
/// A worker that answers every call at once, in process (no socket, no serialization): what the sidecar spends per
/// step beside it is then all that is left to measure. Every sequence emits three tokens per step (4 drafted, 2
/// accepted) and stops at a length fixed by its id, 32 to 2,079 tokens (a chat-like spread, so predictions and the
/// LAPS-SD posterior see finishes as they would live); a step reports 10 ms of GPU time, so attained service grows as
/// on a GPU.
/// It records, for each Step, the time since the previous Step returned: the sidecar's own work between two steps
/// (apply the reports, stream the tokens, release, admit, decide, build the next request).
/// </summary>
internal sealed class InstantWorker : CallInvoker, IWorkerClientFactory
{
    private const double StepSeconds = 0.010;
    private readonly long[] _gaps;
    private readonly TaskCompletionSource _recorded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastReturn;
    private int _steps;
    private int _skip;
    private readonly Dictionary<string, int> _generated = new(StringComparer.Ordinal);
    private readonly Lock _waiting = new();
    private long _stepCount;
    private long _waitTarget;
    private TaskCompletionSource? _waiter;

    /// <param name="record">Gaps to record once <paramref name="warmup"/> steps ran.</param>
    public InstantWorker(int warmup, int record)
    {
        _skip = warmup;
        _gaps = new long[record];
    }

    /// <summary>Completes once <paramref name="steps"/> more Steps were answered.</summary>
    public Task StepsAsync(int steps)
    {
        lock (_waiting)
        {
            _waitTarget = _stepCount + steps;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task;
        }
    }

    /// <summary>Completes when every gap was recorded.</summary>
    public Task Recorded => _recorded.Task;

    /// <summary>Recorded gaps in seconds, in step order.</summary>
    public double[] GapSeconds => [.. _gaps.Select(t => (double)t / Stopwatch.Frequency)];

    /// <summary>Sequences per Step, summed over the recorded steps.</summary>
    public long RecordedSequences { get; private set; }

    public SpeculativeWorker.SpeculativeWorkerClient Create(string address) => new(this);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        object response = request switch
        {
            StepRequest step => Step(step),
            DescribeRequest => new WorkerDescription { WorkerId = "instant", SpeculationLength = 4, MaxBatch = 4096, MaxStepsPerCall = 1, KvCapacityTokens = long.MaxValue },
            ReleaseRequest release => Release(release),
            _ => throw new NotSupportedException(method.FullName),
        };
        return new AsyncUnaryCall<TResponse>(Task.FromResult((TResponse)response), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
    }

    private StepResponse Step(StepRequest request)
    {
        var now = Stopwatch.GetTimestamp();
        if (_lastReturn != 0)
        {
            if (_skip > 0)
            {
                _skip--;
            }
            else if (_steps < _gaps.Length)
            {
                _gaps[_steps++] = now - _lastReturn;
                RecordedSequences += request.Batch.Count;
                if (_steps == _gaps.Length)
                {
                    _recorded.TrySetResult();
                }
            }
        }

        var response = new StepResponse { ElapsedS = StepSeconds };
        foreach (var sequence in request.Batch)
        {
            var generated = _generated.GetValueOrDefault(sequence.SequenceId) + 3;
            var finished = generated >= LengthOf(sequence.SequenceId);
            if (finished)
            {
                _generated.Remove(sequence.SequenceId);
            }
            else
            {
                _generated[sequence.SequenceId] = generated;
            }

            var output = new SequenceOutput
            {
                SequenceId = sequence.SequenceId, Steps = 1, Drafted = 4, Accepted = 2, Text = " a b c",
                Finished = finished, FinishReason = finished ? FinishReason.Stop : FinishReason.Unspecified,
            };
            output.TokenIds.Add(1);
            output.TokenIds.Add(2);
            output.TokenIds.Add(3);
            response.Outputs.Add(output);
        }

        lock (_waiting)
        {
            if (++_stepCount >= _waitTarget && _waiter is { } waiter)
            {
                _waiter = null;
                waiter.TrySetResult();
            }
        }

        _lastReturn = Stopwatch.GetTimestamp();
        return response;
    }

    /// <summary>A stable length per sequence: 32 + a hash of its id mod 2048 (the sidecar's ids are req-1, req-2, ...).</summary>
    private static int LengthOf(string sequenceId)
    {
        var hash = 2166136261u;
        foreach (var c in sequenceId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return 32 + (int)(hash % 2048);
    }

    private ReleaseResponse Release(ReleaseRequest release)
    {
        foreach (var id in release.SequenceIds)
        {
            _generated.Remove(id);
        }

        return new ReleaseResponse { Released = release.SequenceIds.Count };
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        => throw new NotSupportedException();

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        => throw new NotSupportedException();

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        => throw new NotSupportedException();

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        => throw new NotSupportedException();
}
