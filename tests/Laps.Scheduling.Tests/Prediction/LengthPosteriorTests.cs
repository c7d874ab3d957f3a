using Laps.Scheduling.Prediction;

namespace Laps.Scheduling.Tests.Prediction;

public sealed class LengthPosteriorTests
{
    [Fact]
    public void It_is_not_ready_before_it_has_seen_enough_completions()
    {
        var posterior = new LengthPosterior(capacity: 64, neighbours: 4, minObservations: 5);
        for (var i = 0; i < 4; i++)
        {
            posterior.Observe(10, 10);
        }

        Assert.False(posterior.Ready);
        Assert.Throws<InvalidOperationException>(() => posterior.Neighbourhood(10));
        posterior.Observe(10, 10);
        Assert.True(posterior.Ready);
    }

    [Fact]
    public void It_needs_at_least_as_many_completions_as_neighbours()
    {
        var posterior = new LengthPosterior(capacity: 64, neighbours: 6, minObservations: 2);
        for (var i = 0; i < 5; i++)
        {
            posterior.Observe(10, 10);
        }

        Assert.False(posterior.Ready);
    }

    [Fact]
    public void It_becomes_ready_when_its_capacity_is_smaller_than_the_minimum_observations()
    {
        var posterior = new LengthPosterior(capacity: 8, neighbours: 4);
        for (var i = 0; i < 8; i++)
        {
            posterior.Observe(10, 10);
        }

        Assert.True(posterior.Ready);
    }

    // Predictions 10, 20, 40, 80, 160 produced true lengths ten times as long. Distances are taken in log space.
    [Theory]
    [InlineData(30, new[] { 200, 400, 800 })]
    [InlineData(10, new[] { 100, 200, 400 })]
    [InlineData(1, new[] { 100, 200, 400 })]
    [InlineData(1000, new[] { 400, 800, 1600 })]
    [InlineData(45, new[] { 200, 400, 800 })]
    public void Neighbourhood_is_the_true_lengths_of_the_nearest_predictions_sorted(double predicted, int[] expected)
    {
        var posterior = new LengthPosterior(capacity: 16, neighbours: 3, minObservations: 3);
        foreach (var p in new[] { 160, 10, 80, 20, 40 })
        {
            posterior.Observe(p, p * 10);
        }

        Assert.Equal(expected, posterior.Neighbourhood(predicted));
    }

    [Fact]
    public void Neighbourhood_forgets_completions_beyond_its_capacity()
    {
        var posterior = new LengthPosterior(capacity: 4, neighbours: 2, minObservations: 2);
        posterior.Observe(10, 9999);
        foreach (var p in new[] { 100, 200, 300, 400 })
        {
            posterior.Observe(p, p);
        }

        Assert.Equal([100, 200], posterior.Neighbourhood(10));
    }

    [Fact]
    public void Version_bumps_when_the_snapshot_changes()
    {
        var posterior = new LengthPosterior(capacity: 16, neighbours: 2, minObservations: 2);
        posterior.Observe(10, 10);
        var before = posterior.Version;

        posterior.Observe(20, 20);

        Assert.NotEqual(before, posterior.Version);
    }

    // E[L − g | L > g] over the sample.
    [Theory]
    [InlineData(new[] { 10, 20, 30 }, 0, 20)]
    [InlineData(new[] { 10, 20, 30 }, 10, 15)]
    [InlineData(new[] { 10, 20, 30 }, 15, 10)]
    [InlineData(new[] { 10, 20, 30 }, 29, 1)]
    [InlineData(new[] { 1, 1, 1, 100 }, 0, 25.75)]
    [InlineData(new[] { 1, 1, 1, 100 }, 1, 99)]
    public void ExpectedRemaining_is_the_mean_remaining_length_of_the_samples_still_running(int[] sample, int generated, double expected)
    {
        Assert.Equal(expected, LengthPosterior.ExpectedRemaining(sample, generated), 12);
    }

    [Fact]
    public void ExpectedRemaining_grows_with_attained_service_on_a_heavy_tail()
    {
        int[] sample = [1, 1, 1, 100];

        Assert.True(LengthPosterior.ExpectedRemaining(sample, 1) > LengthPosterior.ExpectedRemaining(sample, 0));
    }

    [Theory]
    [InlineData(30, 30)]
    [InlineData(31, 31)]
    [InlineData(500, 500)]
    public void ExpectedRemaining_past_every_sample_assumes_it_runs_as_long_again(int generated, double expected)
    {
        int[] sample = [10, 20, 30];

        Assert.Equal(expected, LengthPosterior.ExpectedRemaining(sample, generated));
        Assert.True(LengthPosterior.ExpectedRemaining(sample, generated) > LengthPosterior.ExpectedRemaining(sample, 29));
    }

    // min over quanta Δ of E[min(L − g, Δ)] / P(L − g ≤ Δ), given L > g.
    [Theory]
    [InlineData(new[] { 1, 1, 1, 100 }, 0, 4.0 / 3)]     // Δ = 1: E[min] = 1, P = 3/4
    [InlineData(new[] { 10, 20, 30 }, 0, 20)]             // Δ = 30: the mean; Δ = 10: 30; Δ = 20: 25
    [InlineData(new[] { 10, 20, 30 }, 15, 10)]            // remaining 5 or 15: Δ = 5 gives 10, Δ = 15 gives 10
    [InlineData(new[] { 2, 4, 100, 100 }, 0, 7)]          // Δ = 2: (2 + 3·2)/1 = 8; Δ = 4: (2 + 4 + 2·4)/2 = 7; Δ = 100: 51.5
    [InlineData(new[] { 5 }, 10, 10)]                     // past every sample
    public void GittinsRank_on_a_hand_checked_sample(int[] sample, int generated, double expected)
    {
        Assert.Equal(expected, LengthPosterior.GittinsRank(sample, generated), 12);
    }

    [Fact]
    public void GittinsRank_is_never_above_ExpectedRemaining()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 200; trial++)
        {
            var sample = Enumerable.Range(0, 1 + random.Next(20)).Select(_ => 1 + random.Next(500)).Order().ToArray();
            var generated = random.Next(400);

            Assert.True(LengthPosterior.GittinsRank(sample, generated) <= LengthPosterior.ExpectedRemaining(sample, generated) + 1e-9);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(16, 0)]
    [InlineData(16, 17)]
    public void The_constructor_refuses_a_bad_capacity_or_neighbourhood(int capacity, int neighbours)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LengthPosterior(capacity, neighbours));
    }
}
