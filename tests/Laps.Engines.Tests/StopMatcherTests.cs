using Laps.Worker.Sampling;

namespace Laps.Engines.Tests;

public sealed class StopMatcherTests
{
    [Fact]
    public void Text_that_may_start_a_stop_string_is_held_until_decided()
    {
        var matcher = new StopMatcher(["END"]);

        Assert.Equal("hello ", matcher.Append("hello E"));
        Assert.Equal("E", matcher.Held);
        Assert.Equal("Ex", matcher.Append("x"));
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void A_stop_string_split_across_appends_matches_and_cuts_the_text()
    {
        var matcher = new StopMatcher(["</answer>", "\n\n"]);

        var first = matcher.Append("42</ans");      // a preemption boundary could fall here
        var second = matcher.Append("wer> trailing");

        Assert.Equal("42", first + second);
        Assert.True(matcher.Stopped);
        Assert.Equal("</answer>", matcher.Matched);
        Assert.Equal(string.Empty, matcher.Append("more"));
    }

    [Fact]
    public void Flush_releases_held_text_at_the_end()
    {
        var matcher = new StopMatcher(["###"]);

        Assert.Equal("a ", matcher.Append("a ##"));
        Assert.Equal("##", matcher.Flush());
    }

    [Fact]
    public void Without_stop_strings_text_passes_at_once()
    {
        var matcher = new StopMatcher([]);

        Assert.Equal("abc", matcher.Append("abc"));
        Assert.False(matcher.HasStops);
    }
}
