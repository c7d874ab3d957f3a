using System.Globalization;
using Laps.Scheduling.Policies;
using Microsoft.Extensions.Configuration;

namespace Laps.Scheduler.Tests;

/// <summary>The table of scheduler settings names every knob of the sidecar's options, by the key the binder fills, with the options' own defaults.</summary>
public sealed class SchedulerKnobsTests
{
    [Fact]
    public void Every_policy_knob_of_the_options_is_in_the_table()
    {
        var properties = typeof(LapsOptions).GetProperties().Where(p => p.CanWrite).Select(p => $"Laps:{p.Name}")
            .Concat(typeof(MlfqOptions).GetProperties().Where(p => p.CanWrite).Select(p => $"Mlfq:{p.Name}"))
            .Concat(["Policy", "Batch", "MaxQueued", "StarvationGuard"]);

        Assert.Equal(properties.Order(), SchedulerKnobs.All.Select(k => k.Key).Order());
    }

    [Fact]
    public void Each_knobs_default_is_the_sidecars_default()
    {
        var defaults = new SchedulerOptions();

        Assert.All(SchedulerKnobs.All, k => Assert.Equal(k.Default, Word(ValueAt(defaults, k.Key))));
    }

    [Fact]
    public void Each_knobs_paper_value_is_the_paper_presets()
    {
        var paper = Bind(new() { ["Laps:Variant"] = "Paper" });

        Assert.Equal(LapsOptions.Paper, paper.Laps);
        Assert.All(SchedulerKnobs.All.Where(k => k.Paper is not null), k => Assert.Equal(k.Paper, Word(ValueAt(paper, k.Key))));
    }

    [Theory]
    [InlineData("Laps:Aging", "true", "on")]
    [InlineData("Laps:Aging", "True", "on")]
    [InlineData("Laps:Aging", "false", "off")]
    [InlineData("Mlfq:Starvation", "true", "on")]
    [InlineData("StarvationGuard", "true", "on")]
    public void A_starvation_guard_is_switched_on_or_off_with_its_defaults(string key, string value, string expected)
    {
        var options = Bind(new() { [key] = value });

        Assert.Equal(expected, Word(ValueAt(options, key)));
        Assert.True(ValueAt(options, key) is null or StarvationGuard { IdleSteps: 200, BoostSteps: 10 });
    }

    [Fact]
    public void A_starvation_guard_may_still_be_given_field_by_field()
        => Assert.Equal(new StarvationGuard(50, 5), Bind(new() { ["Laps:Aging:IdleSteps"] = "50", ["Laps:Aging:BoostSteps"] = "5" }).Laps.Aging);

    [Fact]
    public void A_starvation_guard_that_is_neither_true_nor_false_names_its_key()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bind(new() { ["StarvationGuard"] = "sometimes" }));

        Assert.Contains("'Scheduler:StarvationGuard'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("paper", "Paper")]
    [InlineData("PERCEIVED", "Perceived")]
    [InlineData("inf", "Infinity")]
    [InlineData("on", "true")]
    public void Words_become_what_the_binder_reads(string word, string config)
    {
        var knob = word switch
        {
            "inf" => SchedulerKnobs.All.Single(k => k.Key == "Laps:StabilityTolerance"),
            "on" => SchedulerKnobs.All.Single(k => k.Key == "Laps:ReserveTopQueue"),
            _ => SchedulerKnobs.All.Single(k => k.Key == "Laps:Variant"),
        };

        Assert.Equal(config, knob.ToConfig(word));
    }

    private static SchedulerOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create($"Scheduler:{s.Key}", s.Value))).Build();
        var options = new SchedulerOptions();
        SchedulerOptions.Bind(configuration.GetSection(SchedulerOptions.SectionName), options);
        return options;
    }

    private static object? ValueAt(object options, string key)
        => key.Split(':').Aggregate<string, object?>(options, (o, name) => o!.GetType().GetProperty(name)!.GetValue(o));

    private static string Word(object? value) => value switch
    {
        null or false => "off",
        true or StarvationGuard => "on",
        double d when double.IsPositiveInfinity(d) => "inf",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        Enum e => e.ToString().ToLowerInvariant(),
        _ => value.ToString()!,
    };
}
