using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Discovery;

/// <summary>
/// May this replica schedule? Several sidecar replicas run active-passive: only the leader steps workers and reports
/// ready, so the Service sends traffic to it alone. A single replica always leads.
/// </summary>
public interface ILeadership
{
    bool IsLeading { get; }

    /// <summary>Completes once this replica leads (at once for a single replica).</summary>
    Task WaitUntilLeadingAsync(CancellationToken cancellationToken);
}

public sealed class SoleLeader : ILeadership
{
    public bool IsLeading => true;

    public Task WaitUntilLeadingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Leadership held on a <c>coordination.k8s.io</c> Lease with the client's <see cref="LeaderElector"/>. A replica that
/// loses the lease stops its host (as controller-runtime does): its requests fail over with the restart, and no two
/// replicas ever step the same workers.
/// </summary>
public sealed partial class LeaseLeadership(
    IKubernetes client,
    IOptions<SchedulerOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<LeaseLeadership> logger) : BackgroundService, ILeadership
{
    private readonly TaskCompletionSource _leading = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsLeading => _leading.Task.IsCompleted;

    public Task WaitUntilLeadingAsync(CancellationToken cancellationToken) => _leading.Task.WaitAsync(cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.LeaderElection;
        var leaseLock = new LeaseLock(client, settings.Namespace, settings.LeaseName, settings.Identity);
        using var elector = new LeaderElector(new LeaderElectionConfig(leaseLock)
        {
            LeaseDuration = settings.LeaseDuration,
            RenewDeadline = settings.RenewDeadline,
            RetryPeriod = settings.RetryPeriod,
        });
        elector.OnStartedLeading += () =>
        {
            LogLeading(settings.Identity!, settings.LeaseName!);
            _leading.TrySetResult();
        };
        elector.OnStoppedLeading += () =>
        {
            if (!stoppingToken.IsCancellationRequested)
            {
                LogLost(settings.Identity!, settings.LeaseName!);
                lifetime.StopApplication();
            }
        };
        elector.OnError += e => LogError(settings.LeaseName!, e.Message);
        try
        {
            await elector.RunUntilLeadershipLostAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Identity} leads on lease {Lease}: scheduling")]
    private partial void LogLeading(string identity, string lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Identity} lost lease {Lease}: stopping so another replica takes over")]
    private partial void LogLost(string identity, string lease);

    [LoggerMessage(Level = LogLevel.Debug, Message = "lease {Lease}: {Error}")]
    private partial void LogError(string lease, string error);
}
