using Laps.Worker;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;

namespace Laps.Emulation;

/// <summary>
/// An emulated engine and an adapter worker in front of it, in this process: what one GPU pod runs (engine + `laps
/// worker --engine` on loopback), for <c>laps up --engine vllm|sglang</c>, benchmarks and tests. The emulator listens on
/// a free loopback port; the worker where asked.
/// </summary>
public sealed class EmulatedEngineWorker : IAsyncDisposable
{
    private EmulatedEngineWorker(WebApplication emulator, WebApplication worker)
    {
        Emulator = emulator;
        Worker = worker;
    }

    public WebApplication Emulator { get; }

    public WebApplication Worker { get; }

    /// <summary>The worker's gRPC address.</summary>
    public Uri WorkerAddress => Worker.BoundAddresses()[0];

    public Uri EngineAddress => Emulator.BoundAddresses()[0];

    /// <summary>
    /// Starts the emulator, then the worker (port 0: any free one). <paramref name="configure"/> adds services to both
    /// hosts (logging, a fake clock). The adapter's k and max batch are the emulator's; with a <paramref name="token"/>,
    /// every call to the worker must carry it.
    /// </summary>
    public static async Task<EmulatedEngineWorker> StartAsync(EmulatorOptions emulator, string workerId, string host = "127.0.0.1", int port = 0,
        Action<WebApplicationBuilder>? configure = null, Func<IServiceProvider, WorkerToken>? token = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        var engine = EmulatorHost.Build(emulator, "127.0.0.1", 0, configure);
        await engine.StartAsync(cancellationToken).ConfigureAwait(false);
        var options = new EngineWorkerOptions
        {
            Engine = emulator.Engine,
            EngineUrl = engine.BoundAddresses()[0],
            WorkerId = workerId,
            Proposer = emulator.Model.Proposer,
            K = emulator.Model.K,
            MaxBatch = Math.Min(emulator.MaxRunning, 4096),
            StepTime = StepTimeProfiles.Describe(emulator.Model.StepTime, emulator.Model.Proposer, emulator.Model.K, emulator.Model.TimeScale),
        };
        var worker = EngineWorkerHost.Build(options, host, port, configure, token);
        await worker.StartAsync(cancellationToken).ConfigureAwait(false);
        return new EmulatedEngineWorker(engine, worker);
    }

    public async ValueTask DisposeAsync()
    {
        await Worker.StopAsync().ConfigureAwait(false);
        await Worker.DisposeAsync().ConfigureAwait(false);
        await Emulator.StopAsync().ConfigureAwait(false);
        await Emulator.DisposeAsync().ConfigureAwait(false);
    }
}
