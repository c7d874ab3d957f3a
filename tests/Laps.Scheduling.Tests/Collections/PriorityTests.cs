using Laps.Scheduling.Collections;

namespace Laps.Scheduling.Tests.Collections;

public sealed class PriorityTests
{
    [Theory]
    [InlineData(0, 9, 9, 9, 1, 0, 0, 0)]        // level decides first
    [InlineData(-1, 9, 9, 9, 0, 0, 0, 0)]
    [InlineData(0, 1, 9, 9, 0, 2, 0, 0)]        // then primary
    [InlineData(0, 1, 1, 9, 0, 1, 2, 0)]        // then secondary
    [InlineData(0, 1, 1, 1, 0, 1, 1, 2)]        // then id
    [InlineData(0, 0.5, 0, 0, 0, 1e9, 0, 0)]
    public void A_smaller_priority_is_compared_lexicographically_on_level_primary_secondary_id(
        int levelA, double primaryA, double secondaryA, long idA, int levelB, double primaryB, double secondaryB, long idB)
    {
        var a = new Priority(levelA, primaryA, secondaryA, idA);
        var b = new Priority(levelB, primaryB, secondaryB, idB);

        Assert.True(a.CompareTo(b) < 0);
        Assert.True(b.CompareTo(a) > 0);
        Assert.True(a < b);
        Assert.True(a <= b);
        Assert.True(b > a);
        Assert.True(b >= a);
    }

    [Fact]
    public void Equal_fields_compare_equal()
    {
        var a = new Priority(1, 2, 3, 4);

        Assert.Equal(0, a.CompareTo(new Priority(1, 2, 3, 4)));
    }
}
