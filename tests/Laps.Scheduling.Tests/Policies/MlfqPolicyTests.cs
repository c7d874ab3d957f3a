using Laps.Scheduling.Policies;
using Laps.Scheduling.Requests;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

public sealed class MlfqPolicyTests
{
    // Step cost 0.25 s, base quantum 2 steps, ratio 2: quanta 2, 4, 8, 16 steps; levels end after 2, 6, 14, 30 steps.
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(5, 1)]
    [InlineData(6, 2)]
    [InlineData(13, 2)]
    [InlineData(14, 3)]
    [InlineData(30, 4)]
    public void A_request_is_demoted_each_time_it_uses_up_its_level_quantum(int steps, int expectedLevel)
    {
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context(stepSeconds: 0.25));
        RequestState r = Request(1);
        mlfq.Admit(r);

        mlfq.Step(r, steps);

        Assert.Equal(expectedLevel, mlfq.CurrentKey(r).Level);
        Assert.Equal(expectedLevel, mlfq.QueueLevel(r));
    }

    [Fact]
    public void The_last_level_is_unbounded()
    {
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context(), new MlfqOptions { Levels = 3 });
        RequestState r = Request(1);
        mlfq.Admit(r);

        mlfq.Step(r, 1000);

        Assert.Equal(2, mlfq.CurrentKey(r).Level);
    }

    [Fact]
    public void A_request_in_a_higher_level_runs_before_one_in_a_lower_level()
    {
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context());
        RequestState early = Request(1), late = Request(2);
        mlfq.Admitting(early, late);
        mlfq.Step(early, steps: 2);

        Assert.Equal([2L, 1L], mlfq.SelectIds(2));
    }

    [Fact]
    public void Inside_a_level_the_order_is_fcfs_not_least_attained_service()
    {
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context());
        RequestState first = Request(1), second = Request(2);
        mlfq.Admitting(first, second);
        mlfq.Step(first, steps: 1);

        Assert.Equal([1L, 2L], mlfq.SelectIds(2));
    }

    [Fact]
    public void A_demoted_request_goes_behind_those_already_in_its_new_level()
    {
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context());
        RequestState arrivedFirst = Request(1).ArrivingAt(0), arrivedSecond = Request(2).ArrivingAt(1);
        mlfq.Admitting(arrivedFirst, arrivedSecond);

        mlfq.Step(arrivedSecond, steps: 2);
        mlfq.Step(arrivedFirst, steps: 2);

        Assert.Equal([2L, 1L], mlfq.SelectIds(2));
    }

    [Fact]
    public void Quanta_scale_with_the_configured_base_and_ratio()
    {
        var options = new MlfqOptions { BaseQuantumSteps = 1, Ratio = 3 };
        var mlfq = new MlfqPolicy(PolicyTestExtensions.Context(), options);
        RequestState r = Request(1);
        mlfq.Admit(r);

        // Quanta 1, 3, 9 steps: levels end after 1, 4, 13 steps.
        mlfq.Step(r, steps: 4);

        Assert.Equal(2, mlfq.CurrentKey(r).Level);
    }
}
