using System.Net;
using k8s.Autorest;
using k8s.LeaderElection;
using Microsoft.Extensions.Logging;

namespace Laps.Operator.Hosting;

/// <summary>
/// One term as leader. <see cref="Ending"/> is cancelled when the term ends, for any cause: take no new work.
/// <see cref="Lost"/> is cancelled only when the Lease was lost: abandon work in flight at once, for another instance
/// may already act. On a shutdown the Lease is held until the term's work returns, so work in flight may finish.
/// </summary>
public readonly record struct LeaderTerm(CancellationToken Ending, CancellationToken Lost);

/// <summary>
/// Is this instance the one that may act? client-go's leader election on a <c>coordination.k8s.io</c> Lease (through
/// the client's <see cref="ILock"/>, e.g. <c>LeaseLock</c>), with time from a <see cref="TimeProvider"/> so hand-over
/// can be tested with a fake clock (the client's own LeaderElector reads the wall clock). A holder that has not
/// renewed for <c>leaseDuration</c> (as observed locally) may be replaced; a leader that cannot renew within
/// <c>renewDeadline</c>, or sees another holder, has lost the Lease. On shutdown the leader releases the Lease (an
/// empty holder) so a standby takes over at once, as client-go's ReleaseOnCancel.
/// </summary>
public sealed class LeaseElector(
    ILock lease, TimeProvider time, ILogger logger, TimeSpan? leaseDuration = null, TimeSpan? renewDeadline = null, TimeSpan? retryPeriod = null)
{
    private readonly TimeSpan _leaseDuration = leaseDuration ?? TimeSpan.FromSeconds(15);
    private readonly TimeSpan _renewDeadline = renewDeadline ?? TimeSpan.FromSeconds(10);
    private readonly TimeSpan _retryPeriod = retryPeriod ?? TimeSpan.FromSeconds(2);
    private LeaderElectionRecord? _observed;
    private long _observedAt;
    private volatile bool _leading;

    public bool IsLeader => _leading;

    public string Identity => lease.Identity;

    /// <summary>
    /// Campaigns until this instance leads, runs <paramref name="lead"/> for the term and returns when the term ends:
    /// true when the Lease was lost (the term's <see cref="LeaderTerm.Lost"/> is cancelled at once; as controller-runtime,
    /// the caller should exit rather than campaign again), false when cancelled or when <paramref name="lead"/> returned
    /// on its own (the Lease is then released once the term's work returned).
    /// </summary>
    public async Task<bool> RunAsync(Func<LeaderTerm, Task> lead, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lead);
        try
        {
            while (!await TryAcquireOrRenewAsync(ct).ConfigureAwait(false))
            {
                await Task.Delay(_retryPeriod, time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return false;
        }

        _leading = true;
        if (logger.IsEnabled(LogLevel.Information))
        {
            logger.LogInformation("{Identity} leads on {Lease}", lease.Identity, lease.Describe());
        }

        using var ending = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var lost = new CancellationTokenSource();
        var work = Task.Run(() => lead(new LeaderTerm(ending.Token, lost.Token)), CancellationToken.None);
        var wasLost = await RenewAsync(work, ct).ConfigureAwait(false);
        _leading = false;
        if (wasLost)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.LogWarning("{Identity} lost the lead on {Lease}", lease.Identity, lease.Describe());
            }

            await lost.CancelAsync().ConfigureAwait(false);
        }

        await ending.CancelAsync().ConfigureAwait(false);
        try
        {
            await work.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (!wasLost)
            {
                await ReleaseAsync().ConfigureAwait(false);
            }
        }

        return wasLost;
    }

    // Renews every retry period until the term's work ends or we are cancelled (false), or until a renewal misses the
    // deadline or another holder shows up (true: lost).
    private async Task<bool> RenewAsync(Task work, CancellationToken ct)
    {
        var lastRenew = time.GetTimestamp();
        while (!ct.IsCancellationRequested && !work.IsCompleted)
        {
            try
            {
                await Task.WhenAny(work, Task.Delay(_retryPeriod, time, ct)).ConfigureAwait(false);
                if (ct.IsCancellationRequested || work.IsCompleted)
                {
                    return false;
                }

                if (await TryAcquireOrRenewAsync(ct).ConfigureAwait(false))
                {
                    lastRenew = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(lastRenew) >= _renewDeadline || !IsHolder(_observed))
                {
                    return true;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return false;
            }
        }

        return false;
    }

    private async Task<bool> TryAcquireOrRenewAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        LeaderElectionRecord? old;
        try
        {
            old = await lease.GetAsync(ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            old = null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log(e, "reading the lease failed");
            return false;
        }

        var record = new LeaderElectionRecord
        {
            HolderIdentity = lease.Identity,
            LeaseDurationSeconds = (int)_leaseDuration.TotalSeconds,
            AcquireTime = now,
            RenewTime = now,
            LeaderTransitions = 0,
        };
        if (old is null)
        {
            return await WriteAsync(() => lease.CreateAsync(record, ct), record).ConfigureAwait(false);
        }

        if (!Equals(old, _observed))
        {
            _observed = old;
            _observedAt = time.GetTimestamp();
        }

        var heldByOther = !string.IsNullOrEmpty(old.HolderIdentity) && !IsHolder(old);
        if (heldByOther && time.GetElapsedTime(_observedAt) < _leaseDuration)
        {
            return false;
        }

        if (IsHolder(old))
        {
            record.AcquireTime = old.AcquireTime;
            record.LeaderTransitions = old.LeaderTransitions;
        }
        else
        {
            record.LeaderTransitions = old.LeaderTransitions + 1;
        }

        return await WriteAsync(() => lease.UpdateAsync(record, ct), record).ConfigureAwait(false);
    }

    private async Task<bool> WriteAsync(Func<Task<bool>> write, LeaderElectionRecord record)
    {
        try
        {
            if (!await write().ConfigureAwait(false))
            {
                return false;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log(e, "writing the lease failed");
            return false;
        }

        _observed = record;
        _observedAt = time.GetTimestamp();
        return true;
    }

    // Empty holder: a standby may take the Lease without waiting for it to expire.
    private async Task ReleaseAsync()
    {
        if (_observed is null || !IsHolder(_observed))
        {
            return;
        }

        var now = time.GetUtcNow().UtcDateTime;
        var released = new LeaderElectionRecord
        {
            HolderIdentity = "",
            LeaseDurationSeconds = 1,
            AcquireTime = now,
            RenewTime = now,
            LeaderTransitions = _observed.LeaderTransitions,
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await WriteAsync(() => lease.UpdateAsync(released, timeout.Token), released).ConfigureAwait(false);
    }

    private bool IsHolder(LeaderElectionRecord? record) => record?.HolderIdentity == lease.Identity;

    private void Log(Exception e, string what)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            logger.LogDebug(e, "{Identity}: {What}", lease.Identity, what);
        }
    }
}
