using Laps.Worker;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;

namespace Laps.Emulation;

/// <summary>
/// An emulated engine and an adapter worker in front of it, in this process: what one GPU pod runs (engine + `laps
/// worker --engine` on loopback, and its engine metrics proxy if asked), for <c>laps up --engine vllm|sglang</c>,
/// benchmarks and tests. The emulator listens on a free loopback port; the worker and the proxy where asked.
/// </summary>
public sealed class EmulatedEngineWorker : IAsyncDisposable
{
    private EmulatedEngineWorker(WebApplication emulator, WebApplication worker, WebApplication? engineMetrics)
    {
        Emulator = emulator;
        Worker = worker;
        EngineMetrics = engineMetrics;
    }

    public WebApplication Emulator { get; }

    public WebApplication Worker { get; }

    /// <summary>The worker's gRPC address.</summary>
    public Uri WorkerAddress => Worker.BoundAddresses()[0];

    public Uri EngineAddress => Emulator.BoundAddresses()[0];

    /// <summary>The adapter's engine metrics proxy (<c>laps worker --engine-metrics-port</c>); null when not asked for.</summary>
    public WebApplication? EngineMetrics { get; }

    /// <summary>The proxy's <c>/metrics</c>, where Prometheus scrapes the engine in a pod; null without the proxy.</summary>
    public Uri? EngineMetricsUrl => EngineMetrics is null ? null : new Uri(EngineMetrics.BoundAddresses()[0], EngineMetricsProxy.Path);

    /// <summary>
    /// Starts the emulator, then the worker (port 0: any free one) and, with an <paramref name="engineMetricsPort"/>, the
    /// engine metrics proxy on the worker's host. <paramref name="configure"/> adds services to every host (logging, a
    /// fake clock). The adapter's k and max batch are the emulator's; with a <paramref name="token"/>, every call to the
    /// worker must carry it.
    /// </summary>
    public static async Task<EmulatedEngineWorker> StartAsync(EmulatorOptions emulator, string workerId, string host = "127.0.0.1", int port = 0,
        Action<WebApplicationBuilder>? configure = null, Func<IServiceProvider, WorkerToken>? token = null, int? engineMetricsPort = null,
        CancellationToken cancellationToken = default)
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
        WebApplication? metrics = null;
        if (engineMetricsPort is { } metricsPort)
        {
            metrics = EngineMetricsProxy.Build(options.EngineUrl, host, metricsPort, configure);
            await metrics.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        return new EmulatedEngineWorker(engine, worker, metrics);
    }

    public async ValueTask DisposeAsync()
    {
        if (EngineMetrics is not null)
        {
            await EngineMetrics.StopAsync().ConfigureAwait(false);
            await EngineMetrics.DisposeAsync().ConfigureAwait(false);
        }

        await Worker.StopAsync().ConfigureAwait(false);
        await Worker.DisposeAsync().ConfigureAwait(false);
        await Emulator.StopAsync().ConfigureAwait(false);
        await Emulator.DisposeAsync().ConfigureAwait(false);
    }
}
