using Laps.Scheduling.Policies;

namespace Laps.Scheduling.Tests.Policies;

/// <summary>Every knob rejects bad values with a message that names the knob and the value it got.</summary>
public sealed class OptionsValidationTests
{
    private static readonly PolicyContext Context = new(K: 4, StepSeconds: 0.01);

    public static TheoryData<string, double, string> BadLapsOptions() => new()
    {
        { nameof(LapsOptions.Queues), 0, "0" },
        { nameof(LapsOptions.Queues), 65, "65" },
        { nameof(LapsOptions.Theta0Steps), 0, "0" },
        { nameof(LapsOptions.Theta0Steps), -8, "-8" },
        { nameof(LapsOptions.Theta0Steps), double.NaN, "NaN" },
        { nameof(LapsOptions.Theta0Steps), double.PositiveInfinity, "Infinity" },
        { nameof(LapsOptions.Ratio), 0.5, "0.5" },
        { nameof(LapsOptions.Ratio), double.NaN, "NaN" },
        { nameof(LapsOptions.Ratio), double.PositiveInfinity, "Infinity" },
        { nameof(LapsOptions.StabilityWindow), 0, "0" },
        { nameof(LapsOptions.StabilityWindow), 64, "64" },
        { nameof(LapsOptions.StabilityTolerance), -0.01, "-0.01" },
        { nameof(LapsOptions.StabilityTolerance), double.NaN, "NaN" },
        { nameof(LapsOptions.MinSteps), -1, "-1" },
        { nameof(LapsOptions.PosteriorNeighbours), 0, "0" },
        { nameof(LapsOptions.PosteriorCapacity), 10, "10" },
        { nameof(StarvationGuard.IdleSteps), 0, "0" },
        { nameof(StarvationGuard.BoostSteps), -3, "-3" },
    };

    [Theory]
    [MemberData(nameof(BadLapsOptions))]
    public void LapsOptions_Validate_names_the_bad_knob_and_value(string knob, double value, string shown)
    {
        var options = knob switch
        {
            nameof(LapsOptions.Queues) => new LapsOptions { Queues = (int)value },
            nameof(LapsOptions.Theta0Steps) => new LapsOptions { Theta0Steps = value },
            nameof(LapsOptions.Ratio) => new LapsOptions { Ratio = value },
            nameof(LapsOptions.StabilityWindow) => new LapsOptions { StabilityWindow = (int)value },
            nameof(LapsOptions.StabilityTolerance) => new LapsOptions { StabilityTolerance = value },
            nameof(LapsOptions.MinSteps) => new LapsOptions { MinSteps = (int)value },
            nameof(LapsOptions.PosteriorNeighbours) => new LapsOptions { PosteriorNeighbours = (int)value },
            nameof(LapsOptions.PosteriorCapacity) => new LapsOptions { PosteriorCapacity = (int)value },
            nameof(StarvationGuard.IdleSteps) => new LapsOptions { Aging = new StarvationGuard(IdleSteps: (int)value) },
            nameof(StarvationGuard.BoostSteps) => new LapsOptions { Aging = new StarvationGuard(BoostSteps: (int)value) },
            _ => throw new ArgumentOutOfRangeException(nameof(knob), knob, "no such knob"),
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Contains(knob, ex.Message, StringComparison.Ordinal);
        Assert.Contains(shown, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LapsOptions_Validate_refuses_a_posterior_capacity_below_two_even_for_one_neighbour()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(new LapsOptions { PosteriorCapacity = 1, PosteriorNeighbours = 1 }.Validate);

        Assert.Equal(nameof(LapsOptions.PosteriorCapacity), ex.ParamName);
    }

    [Fact]
    public void LapsPolicy_refuses_bad_options_at_construction()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LapsPolicy(Context, new LapsOptions { Queues = 0 }));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1e-9)]
    [InlineData(double.PositiveInfinity)]
    public void LapsOptions_Validate_accepts_any_non_negative_tolerance_including_zero_and_infinity(double tolerance)
    {
        new LapsOptions { StabilityTolerance = tolerance }.Validate();
    }

    [Fact]
    public void The_default_and_paper_LapsOptions_are_valid()
    {
        new LapsOptions().Validate();
        LapsOptions.Paper.Validate();
    }

    public static TheoryData<string, double, string> BadMlfqOptions() => new()
    {
        { nameof(MlfqOptions.Levels), 0, "0" },
        { nameof(MlfqOptions.Levels), 65, "65" },
        { nameof(MlfqOptions.BaseQuantumSteps), 0, "0" },
        { nameof(MlfqOptions.BaseQuantumSteps), double.NaN, "NaN" },
        { nameof(MlfqOptions.BaseQuantumSteps), double.PositiveInfinity, "Infinity" },
        { nameof(MlfqOptions.Ratio), 0.99, "0.99" },
        { nameof(MlfqOptions.Ratio), double.NaN, "NaN" },
    };

    [Theory]
    [MemberData(nameof(BadMlfqOptions))]
    public void MlfqOptions_Validate_names_the_bad_knob_and_value(string knob, double value, string shown)
    {
        var options = knob switch
        {
            nameof(MlfqOptions.Levels) => new MlfqOptions { Levels = (int)value },
            nameof(MlfqOptions.BaseQuantumSteps) => new MlfqOptions { BaseQuantumSteps = value },
            nameof(MlfqOptions.Ratio) => new MlfqOptions { Ratio = value },
            _ => throw new ArgumentOutOfRangeException(nameof(knob), knob, "no such knob"),
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Contains(knob, ex.Message, StringComparison.Ordinal);
        Assert.Contains(shown, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MlfqPolicy_refuses_bad_options_at_construction()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MlfqPolicy(Context, new MlfqOptions { Levels = 0 }));
    }

    [Fact]
    public void MlfqPolicy_refuses_a_bad_starvation_guard_at_construction()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MlfqPolicy(Context, new MlfqOptions { Starvation = new StarvationGuard(IdleSteps: 0) }));

        Assert.Contains(nameof(StarvationGuard.IdleSteps), ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, double, string> BadContexts() => new()
    {
        { nameof(PolicyContext.K), 0, "0" },
        { nameof(PolicyContext.K), -2, "-2" },
        { nameof(PolicyContext.StepSeconds), 0, "0" },
        { nameof(PolicyContext.StepSeconds), -0.01, "-0.01" },
        { nameof(PolicyContext.StepSeconds), double.NaN, "NaN" },
        { nameof(PolicyContext.StepSeconds), double.PositiveInfinity, "Infinity" },
        { nameof(PolicyContext.PriorAcceptance), -0.1, "-0.1" },
        { nameof(PolicyContext.PriorAcceptance), 1.5, "1.5" },
        { nameof(PolicyContext.PriorAcceptance), double.NaN, "NaN" },
    };

    [Theory]
    [MemberData(nameof(BadContexts))]
    public void PolicyContext_Validate_names_the_bad_field_and_value(string field, double value, string shown)
    {
        var context = field switch
        {
            nameof(PolicyContext.K) => Context with { K = (int)value },
            nameof(PolicyContext.StepSeconds) => Context with { StepSeconds = value },
            nameof(PolicyContext.PriorAcceptance) => Context with { PriorAcceptance = value },
            _ => throw new ArgumentOutOfRangeException(nameof(field), field, "no such field"),
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(context.Validate);

        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
        Assert.Contains(shown, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(PolicyNames))]
    public void Every_policy_refuses_a_bad_context_at_construction(string policy)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PolicyCatalog.Create(policy, Context with { K = 0 }));
    }

    public static TheoryData<string> PolicyNames() => [.. PolicyCatalog.Names];

    [Theory]
    [InlineData(0, 10, nameof(StarvationGuard.IdleSteps), "0")]
    [InlineData(-5, 10, nameof(StarvationGuard.IdleSteps), "-5")]
    [InlineData(200, 0, nameof(StarvationGuard.BoostSteps), "0")]
    [InlineData(200, -1, nameof(StarvationGuard.BoostSteps), "-1")]
    public void StarvationGuard_Validate_names_the_bad_field_and_value(int idle, int boost, string field, string shown)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(new StarvationGuard(idle, boost).Validate);

        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
        Assert.Contains(shown, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SjfPolicy.PolicyName)]
    [InlineData(SrptPolicy.PolicyName)]
    public void Predicted_length_policies_refuse_a_bad_guard_at_construction(string policy)
    {
        var settings = new PolicySettings { PredictedLengthGuard = new StarvationGuard(BoostSteps: 0) };

        Assert.Throws<ArgumentOutOfRangeException>(() => PolicyCatalog.Create(policy, Context, settings));
    }
}
