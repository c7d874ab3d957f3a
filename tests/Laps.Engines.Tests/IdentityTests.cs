using Google.Protobuf;
using Grpc.Core;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using static Laps.Engines.Tests.LoopbackTests;

namespace Laps.Engines.Tests;

/// <summary>
/// The engine adapter keeps each sequence with its prompt and its scheduler incarnation, fences what an older
/// incarnation left, and with a token refuses every caller without it (gRPC on loopback, an emulated engine).
/// </summary>
public sealed class IdentityTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UtcNow;

    private static CallOptions Bounded => new(deadline: DateTime.UtcNow.AddSeconds(20));

    private static SchedulerIncarnation Incarnation(string scheduler, byte id, DateTimeOffset leadingSince) => new()
    {
        Scheduler = scheduler,
        Incarnation = ByteString.CopyFrom([.. Enumerable.Repeat(id, 16)]),
        LeadingSinceUnixMs = leadingSince.ToUnixTimeMilliseconds(),
    };

    private static StepRequest From(SchedulerIncarnation caller, params SequenceInput[] batch) => new() { Steps = 1, Batch = { batch }, Scheduler = caller };

    [Theory]
    [InlineData(EngineKind.Vllm)]
    [InlineData(EngineKind.Sglang)]
    public async Task A_step_that_reuses_a_held_id_for_another_prompt_is_refused_and_the_held_sequence_goes_on(EngineKind engine)
    {
        await using var pair = await EnginePair.StartAsync(engine);
        var first = await pair.Client.StepAsync(Step(1, New("s", Prompt(16), 500)), Bounded);

        var error = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(Step(1, New("s", Prompt(16, first: 4000), 500)), Bounded).ResponseAsync);
        var next = Assert.Single((await pair.Client.StepAsync(Step(1, Held("s", 500)), Bounded)).Outputs);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.StartsWith("sequence 's' is held for another prompt", error.Status.Detail, StringComparison.Ordinal);
        var tokens = first.Outputs[0].TokenIds.Concat(next.TokenIds).ToArray();
        Assert.Equal(await pair.ReferenceAsync(Prompt(16), tokens.Length), tokens); // the first prompt's output, undisturbed
    }

    [Fact]
    public async Task A_prompt_hash_that_names_another_prompt_is_refused_without_the_prompt()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm);
        await pair.Client.StepAsync(Step(1, New("s", Prompt(16), 500)), Bounded);
        var other = Held("s", 500);
        other.PromptHash = PromptHash.Of(Prompt(16, first: 4000));

        var error = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(Step(1, other), Bounded).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.True(pair.Adapter.Holds("s"));
    }

    [Fact]
    public async Task Another_callers_sequence_is_refused_on_step_and_release()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm);
        var owner = Incarnation("pool-a", 1, Start);
        var stranger = Incarnation("pool-b", 2, Start);
        await pair.Client.StepAsync(From(owner, New("s", Prompt(16), 500)), Bounded);

        var step = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(From(stranger, New("s", Prompt(16), 500)), Bounded).ResponseAsync);
        var release = await Assert.ThrowsAsync<RpcException>(() => pair.Client.ReleaseAsync(
            new ReleaseRequest { SequenceIds = { "s" }, Scheduler = stranger }, Bounded).ResponseAsync);
        var anonymous = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(Step(1, Held("s", 500)), Bounded).ResponseAsync);

        Assert.All([step, release, anonymous], e => Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode));
        Assert.Contains("sequence 's' is held for another caller", release.Status.Detail, StringComparison.Ordinal);
        Assert.True(pair.Adapter.Holds("s"));
        Assert.Single(pair.Adapter.OpenRequests);
    }

    [Fact]
    public async Task A_newer_incarnation_aborts_the_older_ones_engine_requests_and_refuses_it()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Sglang);
        var old = Incarnation("laps", 1, Start);
        var restarted = Incarnation("laps", 2, Start.AddSeconds(1));
        await pair.Client.StepAsync(From(old, New("a", Prompt(16), 500), New("b", Prompt(16, first: 3000), 500)), Bounded);
        Assert.Equal(2, pair.Adapter.OpenRequests.Count);

        await pair.Client.DescribeAsync(new DescribeRequest { Scheduler = restarted }, Bounded);
        var refused = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(From(old, Held("a", 500)), Bounded).ResponseAsync);

        Assert.Equal(0, pair.Adapter.HeldSequences);
        Assert.Empty(pair.Adapter.OpenRequests);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("is superseded", refused.Status.Detail, StringComparison.Ordinal);
        var fresh = Assert.Single((await pair.Client.StepAsync(From(restarted, New("a", Prompt(16), 500)), Bounded)).Outputs);
        Assert.True(fresh.Prefilled); // the id means the new incarnation's sequence now
    }

    [Fact]
    public async Task An_adapter_with_a_token_refuses_calls_without_it_and_serves_with_it()
    {
        await using var pair = await EnginePair.StartAsync(EngineKind.Vllm, token: WorkerToken.Of("adapter-secret"));
        var with = new CallOptions(new Metadata { { "authorization", "Bearer adapter-secret" } }, DateTime.UtcNow.AddSeconds(20));
        var wrong = new CallOptions(new Metadata { { "authorization", "Bearer guessed" } }, DateTime.UtcNow.AddSeconds(20));

        var none = await Assert.ThrowsAsync<RpcException>(() => pair.Client.StepAsync(Step(1, New("s", Prompt(16), 8)), Bounded).ResponseAsync);
        var guessed = await Assert.ThrowsAsync<RpcException>(() => pair.Client.DescribeAsync(new DescribeRequest(), wrong).ResponseAsync);
        var description = await pair.Client.DescribeAsync(new DescribeRequest(), with);

        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, guessed.StatusCode);
        Assert.Equal(0, pair.Adapter.HeldSequences);
        Assert.Equal("vllm", description.Engine);
    }
}
