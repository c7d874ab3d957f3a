using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

public sealed class OracleSrptPolicyTests
{
    [Fact]
    public void Select_orders_by_true_remaining_time_so_acceptance_counts_not_only_length()
    {
        // 100 tokens at A = 0.9 take 100/4.6 ≈ 22 steps; 60 tokens at A = 0.1 take 60/1.4 ≈ 43 steps.
        var oracle = new OracleSrptPolicy(PolicyTestExtensions.Context(k: 4))
            .Admitting(Request(1).WithTruth(60, 0.1), Request(2).WithTruth(100, 0.9));

        Assert.Equal([2L, 1L], oracle.SelectIds(2));
    }

    [Fact]
    public void Select_ignores_the_predicted_length()
    {
        var oracle = new OracleSrptPolicy(PolicyTestExtensions.Context())
            .Admitting(Request(1).WithTruth(500).Predicted(1), Request(2).WithTruth(5).Predicted(5000));

        Assert.Equal([2L, 1L], oracle.SelectIds(2));
    }

    [Fact]
    public void Select_counts_what_was_already_generated()
    {
        var oracle = new OracleSrptPolicy(PolicyTestExtensions.Context());
        RequestState nearlyDone = Request(1).WithTruth(100), fresh = Request(2).WithTruth(20);
        oracle.Admitting(nearlyDone, fresh);
        oracle.Step(nearlyDone, steps: 30, emitted: 3);

        Assert.Equal([1L, 2L], oracle.SelectIds(2));
    }

    [Fact]
    public void EstimatedRemainingSeconds_is_the_estimator_on_the_true_remaining_length_and_acceptance()
    {
        var context = PolicyTestExtensions.Context(stepSeconds: 0.02, k: 4);
        var oracle = new OracleSrptPolicy(context);
        RequestState r = Request(1).WithTruth(100, 0.75);
        oracle.Admit(r);
        oracle.Step(r, steps: 10, emitted: 4);

        // 60 tokens left at 4·0.75 + 1 = 4 tokens per step: 15 steps of 20 ms.
        Assert.Equal(0.3, oracle.EstimatedRemainingSeconds(r)!.Value, 12);
        Assert.Equal(ExecutionTimeEstimator.Total(60, 4, 0.75, 0.02), oracle.EstimatedRemainingSeconds(r));
    }

    [Fact]
    public void Admit_without_ground_truth_throws()
    {
        var oracle = new OracleSrptPolicy(PolicyTestExtensions.Context());

        var ex = Assert.Throws<InvalidOperationException>(() => oracle.Admit(Request(7).WithoutTruth()));

        Assert.Contains("7", ex.Message, StringComparison.Ordinal);
    }
}
