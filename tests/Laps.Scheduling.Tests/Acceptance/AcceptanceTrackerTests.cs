using Laps.Scheduling.Acceptance;

namespace Laps.Scheduling.Tests.Acceptance;

public sealed class AcceptanceTrackerTests
{
    [Fact]
    public void Rate_is_the_prior_before_anything_was_drafted()
    {
        var tracker = new AcceptanceTracker();
        tracker.Record(drafted: 0, accepted: 0);

        Assert.Equal(0.6, tracker.Rate(prior: 0.6));
    }

    [Fact]
    public void Rate_is_cumulative_accepted_over_drafted()
    {
        var tracker = new AcceptanceTracker();
        tracker.Record(4, 4);
        tracker.Record(4, 1);
        tracker.Record(2, 0);

        Assert.Equal(5.0 / 10, tracker.Rate(prior: 0.9));
        Assert.Equal(3, tracker.Steps);
        Assert.Equal(10, tracker.Drafted);
        Assert.Equal(5, tracker.Accepted);
    }

    // With a constant rate the test passes at the first step after both the window and the minimum.
    [Theory]
    [InlineData(5, 5, 6)]
    [InlineData(5, 10, 10)]
    [InlineData(5, 0, 6)]
    [InlineData(1, 0, 2)]
    [InlineData(3, 0, 4)]
    [InlineData(63, 0, 64)]
    public void A_constant_rate_is_stable_once_the_window_is_full_and_the_minimum_steps_were_taken(int window, int minSteps, int firstStableStep)
    {
        var tracker = new AcceptanceTracker();
        for (var step = 1; step < firstStableStep; step++)
        {
            tracker.Record(4, 2);
            Assert.False(tracker.IsStable(window, 0.05, minSteps), $"stable too early, at step {step}");
        }

        tracker.Record(4, 2);

        Assert.True(tracker.IsStable(window, 0.05, minSteps));
    }

    [Fact]
    public void A_rate_that_moved_by_the_tolerance_or_more_over_the_window_is_not_stable()
    {
        var tracker = new AcceptanceTracker();
        tracker.Record(10, 5);  // 0.5
        tracker.Record(10, 6);  // 11/20 = 0.55: moved exactly 0.05 over a window of one step

        Assert.False(tracker.IsStable(window: 1, tolerance: 0.05, minSteps: 0));
        Assert.True(tracker.IsStable(window: 1, tolerance: 0.0501, minSteps: 0));
    }

    [Fact]
    public void Only_the_last_window_counts_not_the_early_swings()
    {
        var tracker = new AcceptanceTracker();
        tracker.Record(4, 4);
        tracker.Record(4, 0);
        for (var i = 0; i < 100; i++)
        {
            tracker.Record(0, 0); // steps that drafted nothing leave the rate where it was
        }

        Assert.True(tracker.IsStable(window: 5, tolerance: 1e-12, minSteps: 0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(1000)]
    public void Tolerance_zero_is_never_stable(int steps)
    {
        var tracker = new AcceptanceTracker();
        for (var i = 0; i < steps; i++)
        {
            tracker.Record(4, 2);
        }

        Assert.False(tracker.IsStable(window: 5, tolerance: 0, minSteps: 0));
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(3, 2, false)]
    [InlineData(3, 3, true)]
    [InlineData(1, 1, true)]
    public void Infinite_tolerance_is_stable_as_soon_as_the_minimum_steps_were_taken(int minSteps, int steps, bool stable)
    {
        var tracker = new AcceptanceTracker();
        for (var i = 0; i < steps; i++)
        {
            tracker.Record(4, i % 2 == 0 ? 4 : 0); // however wildly the rate swings
        }

        Assert.Equal(stable, tracker.IsStable(window: 5, tolerance: double.PositiveInfinity, minSteps));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(64)]
    public void IsStable_refuses_a_window_outside_1_to_MaxWindow_naming_it(int window)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AcceptanceTracker().IsStable(window, 0.05, 5));

        Assert.Equal("window", ex.ParamName);
        Assert.Equal(window, ex.ActualValue);
    }

    [Fact]
    public void IsStable_agrees_with_a_full_history_reference_for_every_window_after_the_ring_wraps()
    {
        var random = new Random(7);
        var tracker = new AcceptanceTracker();
        var rates = new List<double> { double.NaN }; // rates[n] = cumulative rate after step n
        long drafted = 0, accepted = 0;
        for (var step = 1; step <= 300; step++)
        {
            var d = random.Next(0, 5);
            var a = random.Next(0, d + 1);
            tracker.Record(d, a);
            drafted += d;
            accepted += a;
            rates.Add(drafted == 0 ? 0 : (double)accepted / drafted);

            var tolerance = random.NextDouble() * 0.1;
            for (var window = 1; window <= AcceptanceTracker.MaxWindow; window++)
            {
                var expected = step > window && Math.Abs(rates[step] - rates[step - window]) < tolerance;
                Assert.Equal(expected, tracker.IsStable(window, tolerance, minSteps: 0));
            }
        }
    }
}
