using Laps.Scheduler.Discovery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Serving;

/// <summary>
/// Runs one loop per worker for the host's life. Shutdown happens in <see cref="StoppingAsync"/>, which the host runs
/// before stopping any hosted service, the web server included: stop admitting (new requests get 503), let admitted
/// requests finish up to <see cref="SchedulerOptions.DrainTimeout"/>, then stop the loops, which fail what is left
/// with a shutdown error. By the time the server stops and waits for open requests, none is waiting on a loop.
/// </summary>
internal sealed partial class SchedulerService(
    WorkerPool pool,
    IWorkerDiscovery discovery,
    ILeadership leadership,
    IHostApplicationLifetime lifetime,
    IOptions<SchedulerOptions> options,
    TimeProvider timeProvider,
    ILogger<SchedulerService> logger) : BackgroundService, IHostedLifecycleService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // A standby replica admits nothing (it is not ready) and steps no worker until it holds the lease.
            await leadership.WaitUntilLeadingAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        await pool.RunAsync(discovery, stoppingToken).ConfigureAwait(false);
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // Refuse new requests (and turn /readyz red) from the first moment of shutdown, whatever runs before us.
        lifetime.ApplicationStopping.Register(pool.StopAccepting);
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        pool.StopAccepting();
        try
        {
            await pool.Drained.WaitAsync(options.Value.DrainTimeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            LogDrainTimedOut(pool.Held, options.Value.DrainTimeout);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Held} requests still running after the drain timeout ({Timeout}); failing them")]
    private partial void LogDrainTimedOut(int held, TimeSpan timeout);
}
