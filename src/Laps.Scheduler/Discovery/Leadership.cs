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
/// replicas ever step the same workers. A leader that shuts down releases the Lease (an empty holder, as client-go's
/// ReleaseOnCancel), so a standby takes over at its next retry instead of waiting out the lease duration. The host
/// stops this service after the scheduler (hosted services stop in reverse order), so no step runs after the release.
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

        if (stoppingToken.IsCancellationRequested && IsLeading)
        {
            await ReleaseAsync(leaseLock, settings.Identity!, settings.LeaseName!).ConfigureAwait(false);
        }
    }

    // Only if we still hold it: the update carries the resourceVersion just read, so a newer holder is never overwritten.
    private async Task ReleaseAsync(LeaseLock leaseLock, string identity, string leaseName)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var current = await leaseLock.GetAsync(timeout.Token).ConfigureAwait(false);
            if (current?.HolderIdentity != identity)
            {
                return;
            }

            var now = DateTime.UtcNow;
            var released = new LeaderElectionRecord
            {
                // Empty, not null: the client's elector takes a null holder for a missing Lease and would try to create it.
                HolderIdentity = "",
                LeaseDurationSeconds = 1,
                AcquireTime = now,
                RenewTime = now,
                LeaderTransitions = current.LeaderTransitions,
            };
            if (await leaseLock.UpdateAsync(released, timeout.Token).ConfigureAwait(false))
            {
                LogReleased(identity, leaseName);
            }
        }
#pragma warning disable CA1031 // Best effort: without the release a standby takes over when the lease expires.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogError(leaseName, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Identity} leads on lease {Lease}: scheduling")]
    private partial void LogLeading(string identity, string lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Identity} lost lease {Lease}: stopping so another replica takes over")]
    private partial void LogLost(string identity, string lease);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Identity} released lease {Lease} on shutdown")]
    private partial void LogReleased(string identity, string lease);

    [LoggerMessage(Level = LogLevel.Debug, Message = "lease {Lease}: {Error}")]
    private partial void LogError(string lease, string error);
}
