using Laps.Scheduling.Policies;

namespace Laps.Scheduling.Tests.Policies;

public sealed class SchedulerKnobsTests
{
    [Fact]
    public void Keys_options_and_CRD_fields_are_each_unique()
    {
        Assert.Distinct(SchedulerKnobs.All.Select(k => k.Key));
        Assert.Distinct(SchedulerKnobs.All.Select(k => k.Option));
        Assert.Distinct(SchedulerKnobs.All.Select(k => k.CrdField));
    }

    [Fact]
    public void The_policy_knob_offers_only_live_policies_and_refuses_the_oracle_by_name()
    {
        Assert.Equal(PolicyCatalog.LiveNames, SchedulerKnobs.Policy.Choices);
        Assert.Equal("laps", SchedulerKnobs.Policy.Default);
        var error = Assert.Throws<FormatException>(() => SchedulerKnobs.Policy.ToConfig("oracle"));
        Assert.StartsWith("'oracle' cannot run live", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_paper_values_are_those_of_the_paper_preset_where_they_differ()
    {
        var paper = SchedulerKnobs.All.Where(k => k.Paper is not null).ToDictionary(k => k.Key, k => k.Paper);

        Assert.Equal(
            new Dictionary<string, string?>
            {
                ["Laps:Estimate"] = "point", ["Laps:ReserveTopQueue"] = "off", ["Laps:PredictBeforeStable"] = "off",
                ["Laps:CostAwarePreemption"] = "off", ["Laps:AcceptancePriorSteps"] = "0", ["Laps:Theta0Steps"] = "8",
            },
            paper);
    }

    [Theory]
    [InlineData("Laps:Queues", " 6 ", "6")]
    [InlineData("Laps:StabilityTolerance", "inf", "Infinity")]
    [InlineData("Laps:StabilityTolerance", "1e-2", "0.01")]
    [InlineData("Laps:Variant", "PAPER", "Paper")]
    [InlineData("Laps:Conditioning", "neighbours", "Neighbours")]
    [InlineData("Laps:Aging", "on", "true")]
    [InlineData("Laps:DemoteAfterPerceptible", "False", "false")]
    [InlineData("Policy", "srpt", "srpt")]
    public void A_word_becomes_the_value_the_sidecars_configuration_binds(string key, string word, string config)
        => Assert.Equal(config, SchedulerKnobs.All.Single(k => k.Key == key).ToConfig(word));

    [Theory]
    [InlineData("Laps:Queues", "6.5", "'6.5' is not an integer")]
    [InlineData("Laps:Theta0Steps", "two", "'two' is not a number")]
    [InlineData("Laps:Aging", "yes please", "'yes please' is not on or off")]
    [InlineData("Laps:Estimate", "mean", "unknown value 'mean'; expected point, posterior, gittins")]
    public void A_word_that_is_not_of_the_knobs_type_says_why(string key, string word, string message)
        => Assert.Equal(message, Assert.Throws<FormatException>(() => SchedulerKnobs.All.Single(k => k.Key == key).ToConfig(word)).Message);
}
