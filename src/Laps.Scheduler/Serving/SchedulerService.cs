using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Serving;

/// <summary>
/// Runs one loop per worker for the host's life. On shutdown: stop admitting (new requests get 503) as soon as the
/// host starts stopping, let admitted requests finish up to <see cref="SchedulerOptions.DrainTimeout"/>, then stop
/// the loops (what is left fails with a shutdown error).
/// </summary>
internal sealed partial class SchedulerService(
    WorkerPool pool,
    IHostApplicationLifetime lifetime,
    IOptions<SchedulerOptions> options,
    TimeProvider timeProvider,
    ILogger<SchedulerService> logger) : BackgroundService
{
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(pool.StopAccepting);
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
        => Task.WhenAll(pool.Loops.Select(loop => Task.Run(() => loop.RunAsync(stoppingToken), CancellationToken.None)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        pool.StopAccepting();
        try
        {
            await pool.Drained.WaitAsync(options.Value.DrainTimeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogDrainTimedOut(pool.Held, options.Value.DrainTimeout);
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(pool.Held, options.Value.DrainTimeout);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Held} requests still running after the drain timeout ({Timeout}); failing them")]
    private partial void LogDrainTimedOut(int held, TimeSpan timeout);
}
