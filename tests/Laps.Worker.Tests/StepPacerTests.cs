using Laps.Worker.Sim;

namespace Laps.Worker.Tests;

public sealed class StepPacerTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void A_first_step_sleeps_its_modelled_time()
        => Assert.Equal(Ms(10), new StepPacer(Ms(50)).SleepFor(Ms(10)));

    [Fact]
    public void Time_overslept_is_taken_off_the_next_sleep()
    {
        var pacer = new StepPacer(Ms(50));
        pacer.Slept(pacer.SleepFor(Ms(10)), Ms(13));

        Assert.Equal(Ms(7), pacer.SleepFor(Ms(10)));
        Assert.Equal(TimeSpan.Zero, pacer.Owed);
    }

    [Fact]
    public void Steady_oversleeping_still_averages_the_modelled_step()
    {
        // The timer always fires 3 ms late: after the first step every sleep is 3 ms short, so each takes 10 ms.
        var pacer = new StepPacer(Ms(50));
        var total = TimeSpan.Zero;
        for (var i = 0; i < 100; i++)
        {
            var sleep = pacer.SleepFor(Ms(10));
            total += sleep + Ms(3);
            pacer.Slept(sleep, sleep + Ms(3));
        }

        Assert.Equal(Ms(1003).TotalMilliseconds, total.TotalMilliseconds, 6);
    }

    [Fact]
    public void A_debt_longer_than_a_step_skips_the_sleep_and_carries_the_rest()
    {
        var pacer = new StepPacer(Ms(50));
        pacer.Slept(Ms(1), Ms(16));

        Assert.Equal(TimeSpan.Zero, pacer.SleepFor(Ms(10)));
        Assert.Equal(Ms(5), pacer.Owed);
        Assert.Equal(Ms(5), pacer.SleepFor(Ms(10)));
    }

    [Fact]
    public void At_most_the_cap_is_owed_after_a_stall()
    {
        var pacer = new StepPacer(Ms(20));
        pacer.Slept(Ms(10), Ms(1000));

        Assert.Equal(Ms(20), pacer.Owed);
    }

    [Fact]
    public void Waking_early_owes_nothing()
    {
        var pacer = new StepPacer(Ms(20));
        pacer.Slept(Ms(10), Ms(9));

        Assert.Equal(TimeSpan.Zero, pacer.Owed);
    }
}
