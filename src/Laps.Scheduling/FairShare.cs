using System.Globalization;

namespace Laps.Scheduling;

/// <summary>What <see cref="FairShare.Admit"/> answers for one new request.</summary>
public enum TenantAdmission
{
    Admitted,

    /// <summary>The pool's queue is full (<c>MaxQueued</c> requests wait) and the tenant is alone or fair share is off.</summary>
    QueueFull,

    /// <summary>The tenant already holds its share of the queue while other tenants have work.</summary>
    TenantQueueFull,
}

/// <summary>
/// Fair share between tenants, as the live sidecar and the simulator both apply it. A tenant is <em>active</em> while it
/// has requests waiting or running. <b>Admission</b>: each active tenant may hold at most its share of the queue's
/// <c>MaxQueued</c> waiting requests, <c>max(1, MaxQueued / active tenants)</c>; a tenant alone may use the whole queue.
/// A tenant under its share is admitted even when the queue holds <c>MaxQueued</c> requests (of a tenant that was alone
/// before), but never beyond 2 × <c>MaxQueued</c> waiting in all: tenants a client can name at will (the header, with
/// API keys off) cannot take the queue past that bound. <b>Ordering</b>
/// (<see cref="PoolScheduler"/>): with two or more active tenants each of a worker's batch slots belongs to a tenant,
/// <c>B / active tenants</c> each, the remainder to the tenants with the least attained service (a tenant holding a
/// remainder slot keeps it until it is <see cref="QuantumSeconds"/> ahead, so that the slot does not change hands, with
/// a preemption, at every step); within its slots a
/// tenant's requests run in the policy's order, and slots a tenant cannot fill go to the others' next-best requests.
/// With one tenant both rules are the policy's own behaviour. Pure: no clock, no I/O.
/// </summary>
public static class FairShare
{
    /// <summary>The tenant of a request that names none (no API keys, no tenant header).</summary>
    public const string DefaultTenant = "default";

    /// <summary>
    /// How far ahead, in batch-slot seconds of attained service, a tenant may get on a remainder slot before it passes
    /// to a tenant that has had less: about 50 engine steps of 10 ms. Each hand-over preempts a request (through an
    /// engine adapter, a re-prefill), so the slot changes hands at most about once per quantum, and over time the
    /// tenants' attained service stays within a quantum of each other.
    /// </summary>
    public const double QuantumSeconds = 0.5;

    /// <summary>The longest tenant name (a tenant names a metric label and a header value).</summary>
    public const int MaxTenantLength = 64;

    /// <summary>Waiting requests one of <paramref name="activeTenants"/> tenants may hold: <c>max(1, maxQueued / activeTenants)</c>.</summary>
    public static int QueueShare(int maxQueued, int activeTenants)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueued, 1);
        return Math.Max(1, maxQueued / Math.Max(1, activeTenants));
    }

    /// <summary>
    /// Whether a tenant's new request may wait in the queue. <paramref name="waiting"/> is every tenant's waiting
    /// requests (admitted, not in a batch), <paramref name="tenantWaiting"/> the asking tenant's, and
    /// <paramref name="activeTenants"/> the tenants with waiting or running requests, the asking one included. Off:
    /// today's single bound, <paramref name="waiting"/> &lt; <paramref name="maxQueued"/>.
    /// </summary>
    public static TenantAdmission Admit(bool fairShare, int maxQueued, int waiting, int tenantWaiting, int activeTenants)
    {
        if (!fairShare || activeTenants <= 1)
        {
            return waiting >= maxQueued ? TenantAdmission.QueueFull : TenantAdmission.Admitted;
        }

        if (waiting >= 2L * maxQueued)
        {
            return TenantAdmission.QueueFull; // the hard bound: many tenants, each under its share of one, fill it too
        }

        return tenantWaiting >= QueueShare(maxQueued, activeTenants) ? TenantAdmission.TenantQueueFull : TenantAdmission.Admitted;
    }

    /// <summary>Why <paramref name="tenant"/> cannot name a tenant (null when it can): 1..64 of [A-Za-z0-9._-].</summary>
    public static string? Rejection(string? tenant)
    {
        if (string.IsNullOrEmpty(tenant))
        {
            return "a tenant name is empty";
        }

        if (tenant.Length > MaxTenantLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"a tenant name is at most {MaxTenantLength} characters, not {tenant.Length}");
        }

        foreach (var c in tenant)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return $"'{tenant}' holds a character a tenant name cannot have: use letters, digits, '.', '_' and '-'";
            }
        }

        return null;
    }
}

/// <summary>What the <see cref="PoolScheduler"/> keeps about one active tenant.</summary>
internal sealed class TenantAccount(string name)
{
    public string Name { get; } = name;

    /// <summary>Admitted requests not yet finished (running ones included).</summary>
    public int Pending;

    /// <summary>Requests in some worker's current batch.</summary>
    public int Running;

    /// <summary>Batch-slot seconds its requests attained since the tenant became active (plus its starting credit).</summary>
    public double Attained;

    // Scratch of one decision: Attained, less the quantum of a remainder slot it already holds.
    public double Rank;

    // Scratch of one decision: the slots of this worker's batch the tenant owns, and how many it filled.
    public int Quota;
    public int Taken;
}
