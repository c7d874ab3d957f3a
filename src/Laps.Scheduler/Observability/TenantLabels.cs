namespace Laps.Scheduler.Observability;

/// <summary>
/// The <c>tenant</c> label of a tenant's metrics, bounded: the tenants of the API key file are few and chosen by the
/// operator of the pool, so each keeps its name; tenants named by the <c>X-Laps-Tenant</c> header (keys off) keep
/// theirs for the first <see cref="MaxHeaderTenants"/> distinct names, and every later one counts as <c>other</c>.
/// Thread-safe.
/// </summary>
public sealed class TenantLabels
{
    /// <summary>Distinct header tenants that get their own series.</summary>
    public const int MaxHeaderTenants = 32;

    /// <summary>The label of the tenants beyond <see cref="MaxHeaderTenants"/>.</summary>
    public const string Other = "other";

    /// <summary>The label of requests that carried no valid API key (no tenant is known).</summary>
    public const string Unknown = "unknown";

    private readonly Lock _lock = new();
    private readonly HashSet<string> _named = new(StringComparer.Ordinal);

    /// <summary>The label for a tenant; <paramref name="fromKeyFile"/>: the key file named it.</summary>
    public string For(string tenant, bool fromKeyFile)
    {
        if (fromKeyFile)
        {
            return tenant;
        }

        lock (_lock)
        {
            return _named.Contains(tenant) || (_named.Count < MaxHeaderTenants && _named.Add(tenant)) ? tenant : Other;
        }
    }
}
