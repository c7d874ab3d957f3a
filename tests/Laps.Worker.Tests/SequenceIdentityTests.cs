using Google.Protobuf;
using Laps.Worker.Identity;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.Extensions.Time.Testing;
using static Laps.Worker.Tests.Builders;

namespace Laps.Worker.Tests;

/// <summary>
/// No output reaches the wrong request: a sequence id names one prompt and one scheduler incarnation for its life, and
/// a newer incarnation of a scheduler drops what the older one left (the sim engine, without gRPC).
/// </summary>
public sealed class SequenceIdentityTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);

    internal static Incarnation Caller(string scheduler, byte id, DateTimeOffset leadingSince)
        => Incarnation.From(Wire(scheduler, id, leadingSince));

    internal static SchedulerIncarnation Wire(string scheduler, byte id, DateTimeOffset leadingSince) => new()
    {
        Scheduler = scheduler,
        Incarnation = ByteString.CopyFrom([.. Enumerable.Repeat(id, 16)]),
        LeadingSinceUnixMs = leadingSince.ToUnixTimeMilliseconds(),
    };

    private SimEngine NewEngine() => new(Options(), new AcceptanceSource(TraceEntries(), Laps.Simulation.Workloads.WorkloadProfiles.Chat, Options().Proposer), _time);

    [Fact]
    public void A_step_that_reuses_a_held_id_for_another_prompt_is_refused_and_changes_nothing()
    {
        var engine = NewEngine();
        var first = engine.Step([SequenceRequest.New("s", Prompt(8))], 1).Single();

        var error = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s", Prompt(8, first: 5000))], 1));

        Assert.Equal(WorkerErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains("sequence 's' is held for another prompt", error.Message, StringComparison.Ordinal);
        Assert.Equal(8 + first.TokenIds.Count, engine.KvTokensInUse);
        Assert.False(engine.Step([SequenceRequest.Held("s")], 1).Single().Prefilled); // still the first prompt's sequence
    }

    [Fact]
    public void A_prompt_hash_without_the_prompt_is_checked_against_the_held_sequence()
    {
        var engine = NewEngine();
        engine.Step([SequenceRequest.New("s", Prompt(8))], 1);

        var error = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.Held("s") with { PromptHash = PromptHash.Of(Prompt(8, first: 5000)) }], 1));
        var ok = engine.Step([SequenceRequest.Held("s") with { PromptHash = PromptHash.Of(Prompt(8)) }], 1).Single();

        Assert.Equal(WorkerErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains($"this Step's is {PromptHash.Format(PromptHash.Of(Prompt(8, first: 5000)))}", error.Message, StringComparison.Ordinal);
        Assert.NotEmpty(ok.TokenIds);
    }

    [Fact]
    public void A_prompt_hash_that_is_not_the_hash_of_the_prompt_sent_is_invalid()
    {
        var engine = NewEngine();

        var error = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s", Prompt(8)) with { PromptHash = 42 }], 1));

        Assert.Equal(WorkerErrorKind.InvalidArgument, error.Kind);
        Assert.StartsWith("sequence 's': prompt_hash 000000000000002a is not the hash of its prompt_token_ids", error.Message, StringComparison.Ordinal);
        Assert.False(engine.Holds("s"));
    }

    [Fact]
    public void A_sequence_is_stepped_and_released_only_by_the_incarnation_that_created_it()
    {
        var engine = NewEngine();
        var a = Caller("pool-a", 1, Start);
        var b = Caller("pool-b", 2, Start); // another scheduler: it fences nothing of pool-a's
        engine.Step([SequenceRequest.New("s", Prompt(8))], 1, a);

        var step = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s", Prompt(8))], 1, b));
        var release = Assert.Throws<WorkerException>(() => engine.Release(["s"], b));
        var anonymous = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.Held("s")], 1));

        Assert.All([step, release, anonymous], e => Assert.Equal(WorkerErrorKind.FailedPrecondition, e.Kind));
        Assert.Contains("sequence 's' is held for another caller, not for scheduler 'pool-b'", step.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(a.Id, step.Message, StringComparison.Ordinal); // the owner's incarnation is not told
        Assert.True(engine.Holds("s"));
        Assert.Equal(1, engine.Release(["s"], a));
    }

    [Fact]
    public void A_newer_incarnation_drops_the_older_ones_sequences_and_the_older_one_is_refused_from_then_on()
    {
        var engine = NewEngine();
        var fenced = new List<Fenced>();
        engine.SequencesFenced += fenced.Add;
        var old = Caller("laps", 1, Start);
        var restarted = Caller("laps", 2, Start.AddSeconds(5));
        engine.Step([SequenceRequest.New("s1", Prompt(8)), SequenceRequest.New("s2", Prompt(8, first: 3000))], 1, old);
        var other = Caller("other", 3, Start);
        engine.Step([SequenceRequest.New("t", Prompt(8, first: 4000))], 1, other);

        engine.Admit(restarted); // its first Describe

        var dropped = Assert.Single(fenced);
        Assert.Equal(["s1", "s2"], dropped.SequenceIds.Order());
        Assert.True(dropped.Superseded.IsSameAs(old));
        Assert.False(engine.Holds("s1") || engine.Holds("s2"));
        Assert.True(engine.Holds("t")); // another scheduler's sequence is not touched
        var step = Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("s3", Prompt(8))], 1, old));
        var release = Assert.Throws<WorkerException>(() => engine.Release(["s1"], old));
        Assert.All([step, release], e => Assert.Equal(WorkerErrorKind.FailedPrecondition, e.Kind));
        Assert.Contains("is superseded by incarnation", step.Message, StringComparison.Ordinal);
        Assert.False(engine.Holds("s3"));
    }

    [Fact]
    public void Two_live_replicas_never_fence_each_other_in_turn()
    {
        var engine = NewEngine();
        var fenced = new List<Fenced>();
        engine.SequencesFenced += fenced.Add;
        var older = Caller("laps", 9, Start);
        var newer = Caller("laps", 1, Start.AddMilliseconds(1));
        engine.Step([SequenceRequest.New("o", Prompt(8))], 1, older);

        for (var i = 0; i < 5; i++)
        {
            engine.Step([SequenceRequest.New("n" + i, Prompt(8, first: 3000 + (100 * i)))], 1, newer);
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.Throws<WorkerException>(() => engine.Step([SequenceRequest.New("o" + i, Prompt(8, first: 100 * i))], 1, older));
        }

        var once = Assert.Single(fenced); // when the newer one first called
        Assert.Equal(["o"], once.SequenceIds);
        Assert.False(engine.Holds("o0"));
    }

    [Fact]
    public void An_older_incarnation_takes_over_only_from_one_that_called_nothing_for_the_takeover_window()
    {
        // A successor whose clock runs behind its dead predecessor's: refused at first, then let in.
        var engine = NewEngine();
        var dead = Caller("laps", 1, Start.AddMinutes(1));
        var successor = Caller("laps", 2, Start);
        engine.Step([SequenceRequest.New("d", Prompt(8))], 1, dead);

        _time.Advance(IncarnationFence.TakeoverAfter - TimeSpan.FromSeconds(1));
        Assert.Throws<WorkerException>(() => engine.Admit(successor));
        _time.Advance(TimeSpan.FromSeconds(1));
        engine.Admit(successor);

        Assert.False(engine.Holds("d"));
        engine.Step([SequenceRequest.New("s", Prompt(8))], 1, successor);
        Assert.True(engine.Holds("s"));
    }

    [Fact]
    public void Equal_leading_times_are_ordered_by_the_incarnation_bits()
    {
        var engine = NewEngine();
        var low = Caller("laps", 1, Start);
        var high = Caller("laps", 2, Start);
        engine.Admit(high);

        Assert.Throws<WorkerException>(() => engine.Admit(low));
    }

    [Fact]
    public void Callers_without_an_incarnation_neither_fence_nor_are_fenced()
    {
        var engine = NewEngine();
        engine.Step([SequenceRequest.New("legacy", Prompt(8))], 1);
        engine.Admit(Caller("laps", 1, Start));
        engine.Admit(Caller("laps", 2, Start.AddSeconds(1)));

        Assert.True(engine.Holds("legacy"));
        Assert.Equal(1, engine.Release(["legacy"]));
    }

    [Theory]
    [InlineData("laps", 15, 0, "scheduler.incarnation has 15 bytes: it must be 16")]
    [InlineData(" ", 16, 0, "scheduler.scheduler ' ' must be a name of 1..253 characters")]
    [InlineData("laps", 16, -1, "scheduler.leading_since_unix_ms = -1 must be >= 0")]
    public void A_malformed_incarnation_is_invalid_naming_the_field(string scheduler, int bytes, long since, string expected)
    {
        var wire = new SchedulerIncarnation { Scheduler = scheduler, Incarnation = ByteString.CopyFrom(new byte[bytes]), LeadingSinceUnixMs = since };

        var error = Assert.Throws<WorkerException>(() => Incarnation.From(wire));

        Assert.Equal(WorkerErrorKind.InvalidArgument, error.Kind);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }
}
