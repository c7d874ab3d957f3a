using Grpc.Net.Client;
using Laps.Worker.V1;

namespace Laps.Scheduler.Serving;

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
