using Grpc.Core;
using Grpc.Net.Client;
using Laps.Worker.V1;

namespace Laps.Scheduler.Serving.Sessions;

/// <summary>
/// The worker protocol (<c>laps.worker.v1</c>) over gRPC: protobuf in and out, status codes mapped to
/// <see cref="WorkerFault"/>. Every Describe, Step and Release carries this process's incarnation and every step its
/// sequences' prompt hashes; with a worker token, every call carries it (and, while a worker refuses a freshly rotated
/// token, the one it replaced).
/// </summary>
internal sealed class GrpcWorkerSession(
    SpeculativeWorker.SpeculativeWorkerClient client, TimeProvider time, ProcessIncarnation incarnation, WorkerToken? token) : IWorkerSession
{
    public async Task<WorkerInfo> DescribeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new DescribeRequest { Scheduler = incarnation.Wire() };
        var d = await Call(headers => client.DescribeAsync(request, headers, Deadline(timeout), cancellationToken).ResponseAsync, cancellationToken)
            .ConfigureAwait(false);
        var p = d.StepTime;
        return new WorkerInfo(
            d.WorkerId,
            d.Engine,
            d.SpeculationLength,
            d.MaxBatch,
            d.KvCapacityTokens,
            p is null ? null : new LinearStepTime(p.VerifyFixedS, p.VerifyPerTokenS, p.VerifyPerKvTokenS, p.DraftFixedS, p.DraftPerTokenS, p.DraftPerKvTokenS, p.OverheadS),
            d.Tokenizer,
            [.. d.SamplingParameters],
            d.ResumeRecomputesPrefix ? Math.Max(0, d.ResumePrefillPerTokenS) : 0);
    }

    public async Task<StepResult> StepAsync(IReadOnlyList<SequenceStep> batch, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new StepRequest { Steps = 1, Scheduler = incarnation.Wire() };
        foreach (var s in batch)
        {
            var input = new SequenceInput { SequenceId = s.SequenceId, MaxTokens = s.MaxTokens, Seed = s.Seed, Sampling = Wire(s.Sampling) };
            if (s.PromptHash is { } hash)
            {
                input.PromptHash = hash;
            }

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

        var response = await Call(headers => client.StepAsync(request, headers, Deadline(timeout), cancellationToken).ResponseAsync, cancellationToken)
            .ConfigureAwait(false);
        var outputs = new SequenceReport[response.Outputs.Count];
        for (var i = 0; i < outputs.Length; i++)
        {
            var o = response.Outputs[i];
            outputs[i] = new SequenceReport(
                o.SequenceId, [.. o.TokenIds], o.Text, o.Drafted, o.Accepted, o.Finished, o.FinishReason == FinishReason.Stop,
                o.Error.Length > 0 ? o.Error : null, o.CachedTokens);
        }

        return new StepResult(outputs, response.ElapsedS, [.. response.EvictedSequenceIds]);
    }

    public Task ReleaseAsync(IReadOnlyList<string> sequenceIds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new ReleaseRequest { Scheduler = incarnation.Wire() };
        request.SequenceIds.AddRange(sequenceIds);
        return Call(headers => client.ReleaseAsync(request, headers, Deadline(timeout), cancellationToken).ResponseAsync, cancellationToken);
    }

    public async Task<IReadOnlyList<int>> TokenizeAsync(PromptInput prompt, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new TokenizeRequest();
        if (prompt.Messages is { } messages)
        {
            request.AddGenerationPrompt = true;
            request.Messages.AddRange(messages.Select(m => new Laps.Worker.V1.ChatMessage { Role = m.Role, Content = m.Content }));
        }
        else
        {
            request.Prompt = prompt.Text ?? string.Empty;
        }

        var response = await Call(headers => client.TokenizeAsync(request, headers, Deadline(timeout), cancellationToken).ResponseAsync, cancellationToken)
            .ConfigureAwait(false);
        return [.. response.TokenIds];
    }

    private static SamplingParams? Wire(SamplingOptions? o)
    {
        if (o is null)
        {
            return null;
        }

        var p = new SamplingParams { IgnoreEos = o.IgnoreEos, MinTokens = o.MinTokens };
        if (o.Temperature is double temperature) p.Temperature = temperature;
        if (o.TopP is double topP) p.TopP = topP;
        if (o.TopK is int topK) p.TopK = topK;
        if (o.MinP is double minP) p.MinP = minP;
        if (o.PresencePenalty is double presence) p.PresencePenalty = presence;
        if (o.FrequencyPenalty is double frequency) p.FrequencyPenalty = frequency;
        if (o.RepetitionPenalty is double repetition) p.RepetitionPenalty = repetition;
        if (o.Seed is long seed) p.Seed = seed;
        p.Stop.AddRange(o.Stop);
        p.StopTokenIds.AddRange(o.StopTokenIds);
        return p;
    }

    private DateTime Deadline(TimeSpan timeout) => time.GetUtcNow().UtcDateTime + timeout;

    private static Metadata? Headers(string? secret) => secret is null ? null : new Metadata { { WorkerToken.MetadataKey, WorkerToken.Bearer(secret) } };

    private async Task<T> Call<T>(Func<Metadata?, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            try
            {
                return await call(Headers(token?.Current)).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && token?.Previous is { } previous)
            {
                // The token was rotated here before the worker read the new one: the one it replaced still works there.
                return await call(Headers(previous)).ConfigureAwait(false);
            }
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
                StatusCode.Unimplemented => WorkerFault.Unimplemented,
                _ => WorkerFault.Other,
            };
            throw new WorkerCallException(fault, $"{e.StatusCode}: {e.Status.Detail}", e);
        }
    }
}

/// <summary>gRPC sessions over the channels of an <see cref="IWorkerClientFactory"/>, as this incarnation, with the pool's worker token if any.</summary>
internal sealed class GrpcWorkerSessionFactory(IWorkerClientFactory clients, TimeProvider time, ProcessIncarnation incarnation, WorkerToken? token)
    : IWorkerSessionFactory
{
    public IWorkerSession Create(string address) => new GrpcWorkerSession(clients.Create(address), time, incarnation, token);
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
