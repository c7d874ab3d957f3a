using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests;

/// <summary>Late binding over several workers: one queue, one order, KV-aware batches, KV affinity.</summary>
public sealed class PoolSchedulerTests
{
    private static readonly PolicyContext Context = PolicyTestExtensions.Context();

    [Fact]
    public void Workers_take_the_best_ranked_requests_no_other_worker_runs()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        PoolWorker w0 = pool.AddWorker(1), w1 = pool.AddWorker(2);
        RequestState a = Request(1), b = Request(2), c = Request(3), d = Request(4);
        Admit(pool, a, b, c, d);

        Assert.Equal([1L], pool.Decide(w0).Selected.Ids());
        Assert.Equal([2L, 3L], pool.Decide(w1).Selected.Ids());
        Assert.Equal([1L], pool.Decide(w0).Selected.Ids()); // its own request stays its own
        Assert.Equal(3, pool.Running);
        Assert.Same(w1, pool.RunningOn(b));
    }

    [Fact]
    public void A_new_request_goes_to_the_first_worker_with_a_free_slot_not_to_a_busy_one()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        PoolWorker busy = pool.AddWorker(1), idle = pool.AddWorker(1);
        RequestState running = Request(1), waiting = Request(2), late = Request(3);
        Admit(pool, running);
        pool.Decide(busy);

        Admit(pool, waiting, late);

        Assert.Equal([2L], pool.Decide(idle).Selected.Ids());
        pool.Finish(waiting, now: 1);
        Assert.Equal([3L], pool.Decide(idle).Selected.Ids());
    }

    [Fact]
    public void A_preempted_request_waits_for_the_worker_holding_its_kv_unless_another_has_nothing_else()
    {
        var pool = new PoolScheduler(new SrptPolicy(Context), new OracleLengthPredictor());
        PoolWorker home = pool.AddWorker(1), other = pool.AddWorker(2);
        RequestState longOne = Request(1).Predicted(1000).WithTruth(1000), mine = Request(2).Predicted(10).WithTruth(10);
        Admit(pool, longOne);
        Assert.Equal([1L], pool.Decide(home).Selected.Ids());
        Admit(pool, mine);
        Assert.Equal([2L], pool.Decide(other).Selected.Ids());

        // A short request takes the home worker's slot: the long one is preempted and its KV stays there.
        RequestState shortOne = Request(3).Predicted(5).WithTruth(5), newcomer = Request(4).Predicted(2000).WithTruth(2000);
        Admit(pool, shortOne, newcomer);
        var atHome = pool.Decide(home);
        Assert.Equal([3L], atHome.Selected.Ids());
        Assert.Equal([1L], atHome.Preempted.Ids());
        Assert.Same(home, pool.ResidentOn(longOne));

        // The other worker fills its free slot with the newcomer, though the long request ranks better.
        Assert.Equal([2L, 4L], pool.Decide(other).Selected.Ids());

        // With nothing else to run, it takes the long request and recomputes its prefix; the home may release it.
        pool.Finish(mine, now: 1);
        pool.Finish(newcomer, now: 1);
        var taken = pool.Decide(other);
        Assert.Equal([1L], taken.Selected.Ids());
        Assert.Equal([1L], taken.Prefill.Ids());
        Assert.Equal([(longOne, home)], taken.Moved);
        Assert.Same(other, pool.ResidentOn(longOne));
    }

    [Fact]
    public void A_batch_holds_no_more_kv_than_the_worker_has_and_smaller_requests_fill_the_rest()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());

        // Each request needs its 16 prompt tokens and one step's k + 1 = 5: 21 tokens; 50 hold two.
        PoolWorker small = pool.AddWorker(8, kvCapacityTokens: 50), large = pool.AddWorker(8);
        RequestState a = Request(1), b = Request(2), c = Request(3);
        Admit(pool, a, b, c);

        Assert.Equal([1L, 2L], pool.Decide(small).Selected.Ids());
        Assert.Equal([3L], pool.Decide(large).Selected.Ids());
        Assert.Equal(21, pool.StepKvTokens(a));
    }

    [Fact]
    public void A_retired_worker_keeps_only_what_it_holds_and_a_lost_one_gives_everything_back()
    {
        var pool = new PoolScheduler(new FcfsPolicy(Context), new OracleLengthPredictor());
        PoolWorker leaving = pool.AddWorker(2), staying = pool.AddWorker(2);
        RequestState a = Request(1), b = Request(2);
        Admit(pool, a);
        pool.Decide(leaving);

        pool.Retire(leaving);
        Admit(pool, b);
        Assert.Equal([1L], pool.Decide(leaving).Selected.Ids()); // not b: it takes nothing new
        Assert.Empty(pool.Decide(leaving).Prefill); // and its request keeps its KV: no recompute

        pool.Lost(leaving);
        Assert.False(a.Running);
        Assert.Equal(0, a.Preemptions); // losing a worker is not a preemption
        Assert.Null(pool.ResidentOn(a));
        var resumed = pool.Decide(staying);
        Assert.Equal([1L, 2L], resumed.Selected.Ids());
        Assert.Equal([1L, 2L], resumed.Prefill.Ids());
        Assert.Empty(resumed.Moved);
    }

    [Fact]
    public void Completions_from_every_worker_teach_the_one_predictor()
    {
        var predictor = new CountingPredictor();
        var pool = new PoolScheduler(new FcfsPolicy(Context), predictor);
        PoolWorker w0 = pool.AddWorker(1), w1 = pool.AddWorker(1);
        RequestState a = Request(1), b = Request(2);
        Admit(pool, a, b);
        pool.Decide(w0);
        pool.Decide(w1);

        pool.Finish(a, now: 1);
        pool.Finish(b, now: 1);

        Assert.Equal(2, predictor.Observed);
        Assert.Equal(0, pool.Pending);
        Assert.Equal(0, w0.Resident + w1.Resident);
    }

    private static void Admit(PoolScheduler pool, params RequestState[] requests)
    {
        foreach (var r in requests)
        {
            pool.Admit(r);
        }
    }

    private sealed class CountingPredictor : ILengthPredictor
    {
        public int Observed { get; private set; }

        public string Name => "counting";

        public double Predict(RequestState request) => request.PredictedLength;

        public void Observe(RequestState completed, int trueLength) => Observed++;
    }
}
