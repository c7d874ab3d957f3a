using Laps.Simulation.Experiments;

namespace Laps.Simulation.Tests.Experiments;

/// <summary><c>laps sim --tenants N --tenant-skew S --fair-share on|off</c>: tenants drawn per request, latency reported per tenant.</summary>
public sealed class TenantExperimentTests
{
    private static ExperimentSpec Spec(int tenants = 2, double skew = 0.25, bool fairShare = true, int batch = 4) => new()
    {
        Workload = "gsm8k",
        Requests = 300,
        Seeds = 1,
        Loads = [0.9],
        Batches = [batch],
        Policies = ["laps", "fcfs"],
        Tenants = tenants,
        TenantSkew = skew,
        FairShare = fairShare,
        Parallelism = 1,
    };

    [Fact]
    public void Each_run_reports_every_tenants_requests_and_latency()
    {
        var results = new ExperimentRunner(Spec()).Run();

        foreach (var run in results)
        {
            var tenants = run.Tenants!;
            Assert.Equal(["t0", "t1"], tenants.Select(t => t.Tenant));
            Assert.Equal(run.Requests, tenants.Sum(t => t.Requests));
            Assert.InRange(tenants[0].Requests / (double)run.Requests, 0.72, 0.88); // skew 0.25: 80% / 20%
            Assert.Equal(run.MeanLatencySeconds, tenants.Sum(t => t.MeanLatencySeconds * t.Requests) / run.Requests, 9);
            Assert.True(tenants.All(t => t.P99LatencySeconds >= t.MeanLatencySeconds));
            Assert.True(run.FairShare);
        }

        // Every policy sees the same tenants.
        Assert.Equal(results[0].Tenants!.Select(t => t.Requests), results[1].Tenants!.Select(t => t.Requests));
    }

    [Fact]
    public void Fair_share_changes_who_waits_when_one_tenant_floods_and_off_it_does_not_matter_who_sent_what()
    {
        var on = new ExperimentRunner(Spec(fairShare: true)).Run().Single(r => r.Policy == "fcfs");
        var off = new ExperimentRunner(Spec(fairShare: false)).Run().Single(r => r.Policy == "fcfs");
        var oneTenant = new ExperimentRunner(Spec(tenants: 1)).Run().Single(r => r.Policy == "fcfs");

        // Off, the tenants are labels only: the same latencies as one tenant.
        Assert.Equal(oneTenant.Latencies, off.Latencies);
        Assert.False(off.FairShare);

        // On, the light tenant's requests get their share of the slots and wait less than under plain FCFS.
        Assert.NotEqual(off.Latencies, on.Latencies);
        Assert.True(on.Tenants![1].MeanLatencySeconds < off.Tenants![1].MeanLatencySeconds);
    }

    [Theory]
    [InlineData("laps", 1)]
    [InlineData("laps", 8)]
    [InlineData("srpt", 4)]
    public void With_one_tenant_results_are_the_same_with_fair_share_on_or_off_and_carry_no_tenant_fields(string policy, int batch)
    {
        var on = new ExperimentRunner(Spec(tenants: 1, fairShare: true, batch: batch) with { Policies = [policy] }).Run().Single();
        var off = new ExperimentRunner(Spec(tenants: 1, fairShare: false, batch: batch) with { Policies = [policy] }).Run().Single();

        Assert.Equal(off with { Latencies = [] }, on with { Latencies = [] });
        Assert.Equal(off.Latencies, on.Latencies);
        Assert.Null(on.Tenants);
        Assert.Null(on.FairShare);
    }

    [Theory]
    [InlineData(0, 1.0, "Tenants")]
    [InlineData(65, 1.0, "Tenants")]
    [InlineData(2, 0.0, "TenantSkew")]
    [InlineData(2, double.PositiveInfinity, "TenantSkew")]
    public void Bad_tenant_settings_are_refused_naming_them(int tenants, double skew, string parameter)
        => Assert.Equal(parameter, Assert.Throws<ArgumentOutOfRangeException>(() => Spec(tenants, skew).Validate()).ParamName);
}
