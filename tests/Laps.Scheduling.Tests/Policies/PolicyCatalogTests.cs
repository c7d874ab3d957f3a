using Laps.Scheduling.Policies;

namespace Laps.Scheduling.Tests.Policies;

public sealed class PolicyCatalogTests
{
    private static readonly PolicyContext Context = new(K: 4, StepSeconds: 0.01);

    public static TheoryData<string> Names() => [.. PolicyCatalog.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void Create_returns_the_policy_whose_name_was_asked_for(string name)
    {
        var policy = PolicyCatalog.Create(name, Context);

        Assert.Equal(name, policy.Name);
        Assert.Same(Context, policy.Context);
        Assert.True(PolicyCatalog.IsKnown(name));
    }

    [Fact]
    public void Names_lists_the_seven_policies_of_the_command_line()
    {
        Assert.Equal(["fcfs", "mlfq", "las", "sjf", "srpt", "laps", "oracle"], PolicyCatalog.Names);
    }

    [Fact]
    public void Every_policy_runs_live_but_the_oracle_which_is_refused_naming_it()
    {
        Assert.Equal(["fcfs", "mlfq", "las", "sjf", "srpt", "laps"], PolicyCatalog.LiveNames);
        Assert.All(PolicyCatalog.LiveNames, n => Assert.Null(PolicyCatalog.LiveRejection(n)));
        Assert.StartsWith("'oracle' cannot run live: it orders by each request's true output length", PolicyCatalog.LiveRejection("oracle"), StringComparison.Ordinal);
        Assert.StartsWith("unknown policy 'lottery'; known: fcfs, mlfq, las, sjf, srpt, laps", PolicyCatalog.LiveRejection("lottery"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("LAPS")]
    [InlineData("sjf ")]
    [InlineData("lottery")]
    public void Create_with_an_unknown_name_throws_listing_the_known_ones(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => PolicyCatalog.Create(name, Context));

        Assert.False(PolicyCatalog.IsKnown(name));
        Assert.Contains($"'{name}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("fcfs, mlfq, las, sjf, srpt, laps, oracle", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_passes_the_settings_to_the_policy()
    {
        var laps = new LapsOptions { Queues = 7 };
        var mlfq = new MlfqOptions { Levels = 3 };

        Assert.Same(laps, ((LapsPolicy)PolicyCatalog.Create("laps", Context, new PolicySettings { Laps = laps })).Options);
        Assert.Same(mlfq, ((MlfqPolicy)PolicyCatalog.Create("mlfq", Context, new PolicySettings { Mlfq = mlfq })).Options);
    }
}
