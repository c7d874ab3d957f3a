using Laps.Simulation.Workloads;

namespace Laps.Simulation.Tests.Workloads;

public class AcceptanceReplayTests
{
    [Theory]
    [InlineData(0, 2, 3, 2, 3, false)] // e = min(3, k + 1 = 3)
    [InlineData(3, 2, 3, 2, 6, false)] // acc_len 5 is capped at k + 1
    [InlineData(6, 2, 1, 2, 9, true)] // e = 3 but only one token is left: emitted 1, accepted still e - 1
    [InlineData(2, 4, 1, 0, 3, false)] // acc_len 1: no draft accepted, the target's own token
    public void A_step_emits_min_acc_len_and_k_plus_one_cut_at_the_end(int position, int k, int emitted, int accepted, int next, bool finished)
    {
        int[] accLen = [3, 2, 1, 5, 1, 1, 4];

        var step = AcceptanceReplay.Step(accLen, position, k);

        Assert.Equal(new ReplayStep(emitted, k, accepted, next, finished), step);
    }

    [Fact]
    public void A_step_past_the_end_is_refused()
        => Assert.Throws<ArgumentOutOfRangeException>(() => AcceptanceReplay.Step([1, 1], 2, 4));
}
