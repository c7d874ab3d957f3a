using Grpc.Core;
using Grpc.Net.Client;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using static Laps.Worker.Tests.Builders;

namespace Laps.Worker.Tests;

/// <summary>One sim worker on a real loopback socket (Kestrel, h2c, 127.0.0.1, a free port) for the whole class.</summary>
public sealed class LoopbackWorker : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "laps-worker-tests-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;
    private GrpcChannel? _channel;

    public SpeculativeWorker.SpeculativeWorkerClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        var trace = Path.Combine(_directory, "trace.jsonl");
        await File.WriteAllTextAsync(trace, Trace);
        var options = Options(k: 2, kvCapacity: 1000, maxBatch: 4, maxSteps: 8) with { Workload = trace + ",gsm8k" };
        _app = WorkerHost.Build(options, "127.0.0.1", 0, b => b.Logging.ClearProviders());
        await _app.StartAsync();
        _channel = GrpcChannel.ForAddress(_app.BoundAddresses()[0]);
        Client = new SpeculativeWorker.SpeculativeWorkerClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class GrpcLoopbackTests(LoopbackWorker worker) : IClassFixture<LoopbackWorker>
{
    private static CallOptions Bounded => new(deadline: DateTime.UtcNow.AddSeconds(10));

    private SpeculativeWorker.SpeculativeWorkerClient Client => worker.Client;

    [Fact]
    public async Task Describe_reports_protocol_engine_and_options()
    {
        var description = await Client.DescribeAsync(new DescribeRequest(), Bounded);

        Assert.Equal("laps.worker.v1", description.ProtocolVersion);
        Assert.Equal("test-worker", description.WorkerId);
        Assert.Equal("sim", description.Engine);
        Assert.Equal("eagle", description.Proposer);
        Assert.Equal(2, description.SpeculationLength);
        Assert.Equal(4, description.MaxBatch);
        Assert.Equal(8, description.MaxStepsPerCall);
        Assert.Equal(1000, description.KvCapacityTokens);
        Assert.Equal(5.89e-3 / 1000, description.StepTime.VerifyFixedS, 12); // wall-clock seconds at time scale 1000
        Assert.False(string.IsNullOrEmpty(description.LlmModel));
    }

    [Fact]
    public async Task Step_prefills_a_new_sequence_then_decodes_it_without_its_prompt()
    {
        var first = await Client.StepAsync(Request(1, New("pd", TracedPrompt)), Bounded);
        var second = await Client.StepAsync(Request(1, new SequenceInput { SequenceId = "pd" }), Bounded);

        var prefill = Assert.Single(first.Outputs);
        Assert.True(prefill.Prefilled);
        Assert.Equal([11, 12, 13], prefill.TokenIds);
        Assert.Equal(" " + string.Join(' ', prefill.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries)), prefill.Text);
        Assert.Equal(1, prefill.Steps);
        Assert.Equal(2, prefill.Drafted);
        Assert.Equal(2, prefill.Accepted);
        var decode = Assert.Single(second.Outputs);
        Assert.False(decode.Prefilled);
        Assert.Equal([14, 15, 16], decode.TokenIds);
        Assert.False(decode.Finished);
        Assert.True(second.ElapsedS >= 0);
        Assert.True(second.KvTokensInUse >= 9);
    }

    [Fact]
    public async Task Step_reports_the_finish_reason()
    {
        var stop = await Client.StepAsync(Request(8, New("fin-stop", OtherTracedPrompt)), Bounded);
        var length = await Client.StepAsync(Request(8, New("fin-length", TracedPrompt, maxTokens: 2)), Bounded);

        Assert.Equal(FinishReason.Stop, Assert.Single(stop.Outputs).FinishReason);
        Assert.True(stop.Outputs[0].Finished);
        Assert.Equal(FinishReason.Length, Assert.Single(length.Outputs).FinishReason);
        Assert.Equal(2, length.Outputs[0].TokenIds.Count);
    }

    [Fact]
    public async Task Release_is_idempotent()
    {
        await Client.StepAsync(Request(1, New("rel", Prompt(8))), Bounded);

        var first = await Client.ReleaseAsync(new ReleaseRequest { SequenceIds = { "rel", "never-seen" } }, Bounded);
        var second = await Client.ReleaseAsync(new ReleaseRequest { SequenceIds = { "rel" } }, Bounded);

        Assert.Equal(1, first.Released);
        Assert.Equal(0, second.Released);
    }

    [Fact]
    public async Task A_batch_over_max_batch_is_resource_exhausted()
    {
        var request = Request(1, [.. Enumerable.Range(0, 5).Select(i => New("big-" + i, Prompt(4, first: 100 * i)))]);

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StepAsync(request, Bounded).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("batch of 5 sequences exceeds max_batch 4", error.Status.Detail);
    }

    [Fact]
    public async Task A_batch_whose_kv_cannot_fit_is_resource_exhausted()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StepAsync(Request(1, New("huge", Prompt(2000))), Bounded).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("kv_capacity_tokens is 1000", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Steps_out_of_range_are_invalid_argument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StepAsync(Request(0, New("zero", Prompt(4))), Bounded).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("steps = 0 is out of range: must be in 1..8", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_sequence_without_its_prompt_is_invalid_argument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StepAsync(Request(1, new SequenceInput { SequenceId = "nobody" }), Bounded).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("'nobody' is not held by this worker", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_step_that_reuses_a_held_id_for_another_prompt_is_failed_precondition_naming_it()
    {
        await Client.StepAsync(Request(1, New("same-id", Prompt(8, first: 7000), maxTokens: 100)), Bounded);

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StepAsync(Request(1, New("same-id", Prompt(8, first: 7100))), Bounded).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.StartsWith("sequence 'same-id' is held for another prompt", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_describe_from_a_newer_incarnation_drops_the_older_ones_sequences_and_refuses_it()
    {
        var start = DateTimeOffset.UtcNow;
        var old = SequenceIdentityTests.Wire("loopback-fence", 1, start);
        var restarted = SequenceIdentityTests.Wire("loopback-fence", 2, start.AddSeconds(1));
        await Client.StepAsync(new StepRequest { Steps = 1, Batch = { New("old-seq", Prompt(8, first: 7200), maxTokens: 100) }, Scheduler = old }, Bounded);

        await Client.DescribeAsync(new DescribeRequest { Scheduler = restarted }, Bounded);
        var refused = await Assert.ThrowsAsync<RpcException>(() => Client.StepAsync(
            new StepRequest { Steps = 1, Batch = { new SequenceInput { SequenceId = "old-seq" } }, Scheduler = old }, Bounded).ResponseAsync);
        var released = await Client.ReleaseAsync(new ReleaseRequest { SequenceIds = { "old-seq" }, Scheduler = restarted }, Bounded);

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("scheduler 'loopback-fence' incarnation 0101", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("is superseded", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, released.Released); // dropped when the newer incarnation described the worker
    }

    internal static SequenceInput New(string id, int[] prompt, int maxTokens = 0)
        => new() { SequenceId = id, PromptTokenIds = { prompt }, MaxTokens = maxTokens };

    internal static StepRequest Request(int steps, params SequenceInput[] batch) => new() { Steps = steps, Batch = { batch } };
}
