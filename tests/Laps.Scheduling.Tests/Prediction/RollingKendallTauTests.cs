using Laps.Scheduling.Prediction;

namespace Laps.Scheduling.Tests.Prediction;

public sealed class RollingKendallTauTests
{
    [Theory]
    [InlineData(1, 50, 1000)]
    [InlineData(2, 200, 1000)]
    [InlineData(3, 7, 1000)]
    [InlineData(4, 300, 5)]
    [InlineData(5, 1000, 20)]
    [InlineData(6, 2, 3)]
    public void Tau_b_matches_a_brute_force_count_over_all_pairs_ties_included(int seed, int n, int distinctValues)
    {
        var random = new Random(seed);
        var x = new double[n];
        var y = new double[n];
        for (var i = 0; i < n; i++)
        {
            // Few distinct values force ties in either sample; y leans on x so τ is far from 0.
            x[i] = random.Next(distinctValues);
            y[i] = random.NextDouble() < 0.6 ? x[i] : random.Next(distinctValues);
        }

        Assert.Equal(BruteForceTauB(x, y), KendallTau.TauB(x, y), 12);
    }

    [Fact]
    public void Perfect_agreement_is_1_and_perfect_reversal_is_minus_1()
    {
        double[] x = [1, 2, 3, 4, 5];

        Assert.Equal(1, KendallTau.TauB(x, [10, 20, 30, 40, 50]), 12);
        Assert.Equal(-1, KendallTau.TauB(x, [50, 40, 30, 20, 10]), 12);
    }

    [Fact]
    public void Ties_are_corrected_as_in_tau_b()
    {
        // x = (1, 1, 2), y = (1, 2, 3): 2 concordant, 1 tied in x only. τ-b = 2 / √(2·3).
        Assert.Equal(2 / Math.Sqrt(6), KendallTau.TauB([1, 1, 2], [1, 2, 3]), 12);
    }

    [Fact]
    public void A_constant_sample_or_too_few_pairs_gives_NaN()
    {
        Assert.True(double.IsNaN(KendallTau.TauB([3, 3, 3], [1, 2, 3])));
        Assert.True(double.IsNaN(KendallTau.TauB([1], [1])));
        Assert.True(double.IsNaN(new RollingKendallTau(10).Compute()));
    }

    [Fact]
    public void The_window_matches_the_brute_force_tau_of_its_pairs()
    {
        var random = new Random(21);
        var window = new RollingKendallTau(500);
        var x = new double[300];
        var y = new double[300];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = Math.Round(random.NextDouble() * 50);
            y[i] = x[i] + Math.Round(random.NextDouble() * 30);
            window.Add(x[i], y[i]);
        }

        Assert.Equal(300, window.Count);
        Assert.Equal(BruteForceTauB(x, y), window.Compute(), 12);
    }

    [Fact]
    public void The_window_keeps_only_the_last_capacity_pairs()
    {
        var window = new RollingKendallTau(capacity: 4);

        // Four reversed pairs, then four concordant ones evict them all.
        for (var i = 0; i < 4; i++)
        {
            window.Add(i, -i);
        }

        Assert.Equal(-1, window.Compute(), 12);
        for (var i = 0; i < 4; i++)
        {
            window.Add(i, i);
        }

        Assert.Equal(4, window.Count);
        Assert.Equal(1, window.Compute(), 12);
    }

    [Fact]
    public void Eviction_on_random_data_matches_the_brute_force_tau_of_the_most_recent_pairs()
    {
        var random = new Random(8);
        var window = new RollingKendallTau(capacity: 50);
        var x = new List<double>();
        var y = new List<double>();
        for (var i = 0; i < 173; i++)
        {
            x.Add(random.Next(20));
            y.Add(random.Next(20));
            window.Add(x[^1], y[^1]);
        }

        Assert.Equal(50, window.Count);
        Assert.Equal(BruteForceTauB(x.TakeLast(50).ToArray(), y.TakeLast(50).ToArray()), window.Compute(), 12);
    }

    [Fact]
    public void Computing_twice_gives_the_same_value()
    {
        var window = new RollingKendallTau(16);
        var random = new Random(2);
        for (var i = 0; i < 40; i++)
        {
            window.Add(random.Next(5), random.Next(5));
        }

        Assert.Equal(window.Compute(), window.Compute());
    }

    [Fact]
    public void Clear_empties_the_window()
    {
        var window = new RollingKendallTau(8);
        window.Add(1, 2);
        window.Add(2, 3);

        window.Clear();

        Assert.Equal(0, window.Count);
        Assert.True(double.IsNaN(window.Compute()));
    }

    [Fact]
    public void NaN_pairs_and_tiny_windows_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new RollingKendallTau(4).Add(double.NaN, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RollingKendallTau(1));
        Assert.Throws<ArgumentException>(() => KendallTau.TauB([1, 2], [1]));
    }

    /// <summary>Kendall's τ-b by brute force over all pairs.</summary>
    private static double BruteForceTauB(double[] x, double[] y)
    {
        long concordant = 0, discordant = 0, tiesXOnly = 0, tiesYOnly = 0;
        for (var i = 0; i < x.Length; i++)
        {
            for (var j = i + 1; j < x.Length; j++)
            {
                var dx = Math.Sign(x[i] - x[j]);
                var dy = Math.Sign(y[i] - y[j]);
                if (dx == 0 && dy == 0)
                {
                    continue;
                }

                if (dx == 0)
                {
                    tiesXOnly++;
                }
                else if (dy == 0)
                {
                    tiesYOnly++;
                }
                else if (dx == dy)
                {
                    concordant++;
                }
                else
                {
                    discordant++;
                }
            }
        }

        return (concordant - discordant) / Math.Sqrt((double)(concordant + discordant + tiesXOnly) * (concordant + discordant + tiesYOnly));
    }
}
