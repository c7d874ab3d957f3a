using Laps.Scheduling.Policies;

namespace Laps.Scheduling.Tests.Policies;

public sealed class AttainedServiceLevelsTests
{
    // θ_j = 2·2^j: upper bounds 2, 4, 8; the fourth level is unbounded.
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1.999, 0)]
    [InlineData(2, 1)]
    [InlineData(4, 2)]
    [InlineData(8, 3)]
    [InlineData(1e12, 3)]
    public void FromThresholds_puts_service_below_theta_j_in_level_j(double service, int level)
    {
        var levels = AttainedServiceLevels.FromThresholds(4, theta0: 2, ratio: 2);

        Assert.Equal(4, levels.Count);
        Assert.Equal(level, levels.LevelOf(service));
    }

    // Quanta 0.5, 1, 2: levels end after 0.5, 1.5, 3.5.
    [Theory]
    [InlineData(0.49, 0)]
    [InlineData(0.5, 1)]
    [InlineData(1.49, 1)]
    [InlineData(1.5, 2)]
    [InlineData(3.5, 3)]
    public void FromQuanta_ends_each_level_after_the_running_sum_of_quanta(double service, int level)
    {
        Assert.Equal(level, AttainedServiceLevels.FromQuanta(4, quantum0: 0.5, ratio: 2).LevelOf(service));
    }

    [Fact]
    public void A_single_level_holds_everything()
    {
        Assert.Equal(0, AttainedServiceLevels.FromThresholds(1, 2, 2).LevelOf(1e9));
    }
}
