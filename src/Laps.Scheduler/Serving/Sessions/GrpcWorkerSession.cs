using Grpc.Core;
using Grpc.Net.Client;
using Laps.Worker.V1;

namespace Laps.Scheduler.Serving.Sessions;

/// <summary>The worker protocol (<c>laps.worker.v1</c>) over gRPC: protobuf in and out, status codes mapped to <see cref="WorkerFault"/>.</summary>
internal sealed class GrpcWorkerSession(SpeculativeWorker.SpeculativeWorkerClient client, TimeProvider time) : IWorkerSession
{
    public async Task<WorkerInfo> DescribeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var d = await Call(() => client.DescribeAsync(new DescribeRequest(), deadline: Deadline(timeout), cancellationToken: cancellationToken).ResponseAsync, cancellationToken)
            .ConfigureAwait(false);
        var p = d.StepTime;
        return new WorkerInfo(
            d.WorkerId,
            d.Engine,
            d.SpeculationLength,
            d.MaxBatch,
            d.KvCapacityTokens,
            p is null ? null : new LinearStepTime(p.VerifyFixedS, p.VerifyPerTokenS, p.VerifyPerKvTokenS, p.DraftFixedS, p.DraftPerTokenS, p.DraftPerKvTokenS, p.OverheadS));
    }

    public async Task<StepResult> StepAsync(IReadOnlyList<SequenceStep> batch, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new StepRequest { Steps = 1 };
        foreach (var s in batch)
        {
            var input = new SequenceInput { SequenceId = s.SequenceId, MaxTokens = s.MaxTokens, Seed = s.Seed };
            if (s.PromptTokenIds is { } prompt)
            {
                input.PromptTokenIds.AddRange(prompt);
            }

            if (s.GeneratedTokenIds is { } generated)
            {
                input.GeneratedTokenIds.AddRange(generated);
            }

            request.Batch.Add(input);
        }

        var response = await Call(() => client.StepAsync(request, deadline: Deadline(timeout), cancellationToken: cancellationToken).ResponseAsync, cancellationToken)
            .ConfigureAwait(false);
        var outputs = new SequenceReport[response.Outputs.Count];
        for (var i = 0; i < outputs.Length; i++)
        {
            var o = response.Outputs[i];
            outputs[i] = new SequenceReport(o.SequenceId, [.. o.TokenIds], o.Text, o.Drafted, o.Accepted, o.Finished, o.FinishReason == FinishReason.Stop);
        }

        return new StepResult(outputs, response.ElapsedS, [.. response.EvictedSequenceIds]);
    }

    public Task ReleaseAsync(IReadOnlyList<string> sequenceIds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new ReleaseRequest();
        request.SequenceIds.AddRange(sequenceIds);
        return Call(() => client.ReleaseAsync(request, deadline: Deadline(timeout), cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
    }

    private DateTime Deadline(TimeSpan timeout) => time.GetUtcNow().UtcDateTime + timeout;

    private static async Task<T> Call<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
        }
        catch (RpcException e)
        {
            var fault = e.StatusCode switch
            {
                StatusCode.Unavailable or StatusCode.Aborted or StatusCode.Cancelled or StatusCode.Unknown or StatusCode.Internal => WorkerFault.Unavailable,
                StatusCode.DeadlineExceeded => WorkerFault.DeadlineExceeded,
                StatusCode.ResourceExhausted => WorkerFault.ResourceExhausted,
                StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => WorkerFault.InvalidArgument,
                _ => WorkerFault.Other,
            };
            throw new WorkerCallException(fault, $"{e.StatusCode}: {e.Status.Detail}", e);
        }
    }
}

/// <summary>gRPC sessions over the channels of an <see cref="IWorkerClientFactory"/>.</summary>
internal sealed class GrpcWorkerSessionFactory(IWorkerClientFactory clients, TimeProvider time) : IWorkerSessionFactory
{
    public IWorkerSession Create(string address) => new GrpcWorkerSession(clients.Create(address), time);
}

/// <summary>Answers: which gRPC client talks to the worker at this configured address? Tests swap in in-memory ones.</summary>
public interface IWorkerClientFactory
{
    SpeculativeWorker.SpeculativeWorkerClient Create(string address);
}

/// <summary>One HTTP/2 channel per worker address, kept for the process's life (a worker that comes back reuses it).</summary>
internal sealed class GrpcWorkerClientFactory : IWorkerClientFactory, IDisposable
{
    private readonly Dictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    public SpeculativeWorker.SpeculativeWorkerClient Create(string address)
    {
        if (!WorkerAddress.TryParse(address, out var uri))
        {
            throw new ArgumentException($"'{address}' is not a host:port address", nameof(address));
        }

        lock (_channels)
        {
            if (_channels.TryGetValue(address, out var existing))
            {
                return new SpeculativeWorker.SpeculativeWorkerClient(existing);
            }
        }

        var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            },
        });
        lock (_channels)
        {
            if (!_channels.TryAdd(address, channel))
            {
                channel.Dispose();
                channel = _channels[address];
            }
        }

        return new SpeculativeWorker.SpeculativeWorkerClient(channel);
    }

    public void Dispose()
    {
        lock (_channels)
        {
            foreach (var channel in _channels.Values)
            {
                channel.Dispose();
            }

            _channels.Clear();
        }
    }
}
