using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Tests.Builders;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Policies;

public sealed class FcfsPolicyTests
{
    [Fact]
    public void Select_orders_by_arrival_time_not_by_admission_order()
    {
        var fcfs = new FcfsPolicy(PolicyTestExtensions.Context())
            .Admitting(Request(1).ArrivingAt(3), Request(2).ArrivingAt(1), Request(3).ArrivingAt(2));

        Assert.Equal([2L, 3L, 1L], fcfs.SelectIds(3));
    }

    [Fact]
    public void Select_ignores_service_and_predicted_length()
    {
        var fcfs = new FcfsPolicy(PolicyTestExtensions.Context());
        var early = Request(1).ArrivingAt(0).Predicted(5000).Build();
        fcfs.Admitting(early, Request(2).ArrivingAt(1).Predicted(1));
        fcfs.Step(early, steps: 50);

        Assert.Equal([1L], fcfs.SelectIds(1));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(4, 3)]
    public void Fcfs_never_preempts_a_running_request(int batch, int seed)
    {
        var driver = new StepDriver(new BatchScheduler(new FcfsPolicy(PolicyTestExtensions.Context()), new OracleLengthPredictor(), batch), seed);
        var random = new Random(seed);
        for (var i = 1; i <= 40; i++)
        {
            driver.Arrive(Request(i).ArrivingAt(i).WithTruth(1 + random.Next(80)), atStep: i);
        }

        var records = driver.Run();

        Assert.All(records, r => Assert.Empty(r.Preempted));
        Assert.True(driver.Done);
    }
}
