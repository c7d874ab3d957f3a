using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;

namespace Laps.Scheduling.Tests;

/// <summary>Fair share between tenants: the queue share at admission and the batch slots at each decision.</summary>
public sealed class FairShareTests
{
    private static readonly PolicyContext Context = PolicyTestExtensions.Context();

    [Theory]
    [InlineData(true, 8, 7, 7, 1, TenantAdmission.Admitted)]
    [InlineData(true, 8, 8, 8, 1, TenantAdmission.QueueFull)] // alone: the whole queue, and today's answer when it is full
    [InlineData(true, 8, 4, 4, 2, TenantAdmission.TenantQueueFull)] // its half is full
    [InlineData(true, 8, 8, 0, 2, TenantAdmission.Admitted)] // another tenant filled the queue alone: this one still gets in
    [InlineData(true, 8, 11, 3, 2, TenantAdmission.Admitted)]
    [InlineData(true, 2, 1, 1, 3, TenantAdmission.TenantQueueFull)] // a share is at least one request
    [InlineData(true, 2, 1, 0, 3, TenantAdmission.Admitted)]
    [InlineData(true, 8, 16, 0, 17, TenantAdmission.QueueFull)] // a new tenant per request: the queue stops at twice its size
    [InlineData(true, 8, 15, 0, 16, TenantAdmission.Admitted)]
    [InlineData(false, 8, 8, 0, 2, TenantAdmission.QueueFull)] // off: one bound for everyone
    [InlineData(false, 8, 4, 4, 2, TenantAdmission.Admitted)]
    public void Admission_holds_each_active_tenant_to_its_share_of_the_queue(
        bool on, int maxQueued, int waiting, int tenantWaiting, int tenants, TenantAdmission expected)
        => Assert.Equal(expected, FairShare.Admit(on, maxQueued, waiting, tenantWaiting, tenants));

    [Theory]
    [InlineData(256, 1, 256)]
    [InlineData(256, 2, 128)]
    [InlineData(10, 3, 3)]
    [InlineData(2, 5, 1)]
    public void A_share_is_the_queue_over_the_active_tenants_and_at_least_one(int maxQueued, int tenants, int share)
        => Assert.Equal(share, FairShare.QueueShare(maxQueued, tenants));

    [Theory]
    [InlineData("team-a", true)]
    [InlineData("a.b_C-9", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("ünï", false)]
    [InlineData("x/y", false)]
    public void A_tenant_name_is_short_and_plain(string name, bool ok)
        => Assert.Equal(ok, FairShare.Rejection(name) is null);

    [Fact]
    public void A_tenant_name_longer_than_the_limit_is_refused_naming_the_limit()
        => Assert.Contains("at most 64", FairShare.Rejection(new string('a', 65)), StringComparison.Ordinal);

    [Fact]
    public void A_flooding_tenant_gets_its_share_of_the_batch_not_the_whole_batch()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(4);
        Admit(pool, "a", 1, 2, 3, 4, 5, 6);
        Admit(pool, "b", 7, 8);

        // FCFS alone would run 1..4; each tenant gets two slots, and FCFS orders within each.
        Assert.Equal([1L, 2L, 7L, 8L], Sorted(pool.Decide(w).Selected));
        Assert.Equal(2, pool.ActiveTenants);
        Assert.Equal((2, 6), (pool.RunningOf("a"), pool.PendingOf("a")));
    }

    [Fact]
    public void Off_the_policy_order_is_the_whole_rule()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor(), fairShare: false);
        var w = pool.AddWorker(4);
        Admit(pool, "a", 1, 2, 3, 4, 5, 6);
        Admit(pool, "b", 7, 8);

        Assert.Equal([1L, 2L, 3L, 4L], Sorted(pool.Decide(w).Selected));
    }

    [Fact]
    public void Slots_a_tenant_cannot_fill_go_to_the_others_in_the_policy_order()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(4);
        Admit(pool, "a", 1, 2, 3, 4, 5, 6);
        Admit(pool, "b", 7);

        Assert.Equal([1L, 2L, 3L, 7L], Sorted(pool.Decide(w).Selected));
    }

    [Fact]
    public void A_tenant_that_arrives_preempts_the_flooding_one_down_to_its_share()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(2);
        Admit(pool, "a", 1, 2, 3);
        Assert.Equal([1L, 2L], Sorted(pool.Decide(w).Selected));

        Admit(pool, "b", 4);
        var decision = pool.Decide(w);

        Assert.Equal([1L, 4L], Sorted(decision.Selected));
        Assert.Equal([2L], decision.Preempted.Select(r => r.Id));
    }

    [Fact]
    public void At_batch_one_the_tenant_with_the_least_attained_service_runs()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(1);
        Admit(pool, "a", 1, 2);
        Admit(pool, "b", 3);

        // Both start at 0: ties go by name. The slot goes to the tenant that has had less, and its holder keeps it
        // until it is more than a quantum (0.5 s) ahead: with 1 s steps, "b" runs twice once it has the slot.
        var ran = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var r = Assert.Single(pool.Decide(w).Selected);
            ran.Add(r.Id);
            pool.RecordStep(r, emitted: 1, drafted: 4, accepted: 2, stepSeconds: 1, now: i);
        }

        Assert.Equal([1L, 3L, 3L, 1L], ran);
        Assert.Equal((2.0, 2.0), (pool.AttainedOf("a"), pool.AttainedOf("b")));
    }

    [Fact]
    public void At_batch_one_short_steps_hand_the_slot_over_once_per_quantum_not_at_every_step()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(1);
        Admit(pool, "a", 1);
        Admit(pool, "b", 2);

        // 10 ms steps: "a" (first by name) keeps the slot for a quantum (50 steps), then "b" until it is a quantum
        // ahead (100 steps), and so on; the tenants' service never drifts further apart than one quantum.
        const double step = 0.01;
        var handovers = 0;
        long? last = null;
        for (var i = 0; i < 400; i++)
        {
            var r = Assert.Single(pool.Decide(w).Selected);
            handovers += last is { } l && l != r.Id ? 1 : 0;
            last = r.Id;
            pool.RecordStep(r, emitted: 1, drafted: 4, accepted: 2, stepSeconds: step, now: i * step);
            Assert.InRange(Math.Abs(pool.AttainedOf("a") - pool.AttainedOf("b")), 0, FairShare.QuantumSeconds + step + 1e-9);
        }

        Assert.InRange(handovers, 3, 4); // about once per 100 steps after the first 50, where a slot per step gives 399
    }

    [Fact]
    public void A_tenant_that_becomes_active_starts_with_the_least_attained_service_not_with_none()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(1);
        var a = Admit(pool, "b-first", 1);
        for (var i = 0; i < 10; i++)
        {
            pool.RecordStep(Assert.Single(pool.Decide(w).Selected), 1, 4, 2, stepSeconds: 1, now: i);
        }

        // The newcomer does not claim the ten seconds it was away: it shares from now on.
        Admit(pool, "a-late", 2);
        Assert.Equal(10, pool.AttainedOf("a-late"));
        var late = Assert.Single(pool.Decide(w).Selected); // the tie goes by name
        Assert.Equal(2, late.Id);
        pool.RecordStep(late, 1, 4, 2, stepSeconds: 1, now: 11);
        Assert.Equal(1, Assert.Single(pool.Decide(w).Selected).Id);

        // Once it has nothing pending its account goes; it comes back at the least active tenant's again.
        pool.Finish(a[0], now: 12);
        Assert.Equal(1, pool.ActiveTenants);
        Assert.Equal(0, pool.PendingOf("b-first"));
    }

    [Fact]
    public void Accounts_follow_running_finishing_cancelling_and_lost_workers()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        var w = pool.AddWorker(4);
        var a = Admit(pool, "a", 1, 2, 3);
        var b = Admit(pool, "b", 4);
        pool.Decide(w);
        Assert.Equal((3, 1), (pool.RunningOf("a"), pool.RunningOf("b")));

        pool.Finish(a[0], now: 1);
        pool.Cancel(b[0]);
        Assert.Equal((2, 2, 0), (pool.RunningOf("a"), pool.PendingOf("a"), pool.PendingOf("b")));
        Assert.Equal(1, pool.ActiveTenants);

        pool.Lost(w);
        Assert.Equal((0, 2), (pool.RunningOf("a"), pool.PendingOf("a")));
    }

    [Theory]
    [InlineData("laps", 1)]
    [InlineData("laps", 4)]
    [InlineData("srpt", 3)]
    [InlineData("mlfq", 2)]
    public void With_one_tenant_every_decision_is_the_same_on_and_off(string policy, int batch)
    {
        Assert.Equal(Trace(policy, batch, fairShare: false), Trace(policy, batch, fairShare: true));
    }

    // A deterministic run of one tenant's requests: the ids each decision selects and preempts.
    private static List<string> Trace(string policy, int batch, bool fairShare)
    {
        var pool = new PoolScheduler(PolicyCatalog.Create(policy, Context, new PolicySettings()), new OracleLengthPredictor(), fairShare);
        PoolWorker w0 = pool.AddWorker(batch), w1 = pool.AddWorker(batch + 1);
        var random = new Random(7);
        var trace = new List<string>();
        var live = new List<RequestState>();
        var next = 1L;
        for (var t = 0; t < 300; t++)
        {
            if (t % 3 == 0 || live.Count == 0)
            {
                var r = new RequestState(next++, t, promptTokens: 16) { Oracle = new OracleInfo(random.Next(2, 40), 0.5), Tenant = "solo" };
                pool.Admit(r);
                live.Add(r);
            }

            var worker = t % 2 == 0 ? w0 : w1;
            var decision = pool.Decide(worker);
            trace.Add(string.Join(',', decision.Selected.Select(r => r.Id)) + "|" + string.Join(',', decision.Preempted.Select(r => r.Id)));
            foreach (var r in decision.Selected.ToList())
            {
                pool.RecordStep(r, emitted: 1 + random.Next(3), drafted: 4, accepted: random.Next(5), stepSeconds: 0.25, now: t);
                if (r.Generated >= r.Oracle!.TrueLength)
                {
                    pool.Finish(r, now: t);
                    live.Remove(r);
                }
            }
        }

        return trace;
    }

    private static RequestState[] Admit(PoolScheduler pool, string tenant, params long[] ids)
    {
        var requests = ids.Select(id => new RequestState(id, id, promptTokens: 16) { Oracle = new OracleInfo(100, 0.5), Tenant = tenant }).ToArray();
        foreach (var r in requests)
        {
            pool.Admit(r);
        }

        return requests;
    }

    private static long[] Sorted(IReadOnlyList<RequestState> requests) => [.. requests.Select(r => r.Id).Order()];
}
