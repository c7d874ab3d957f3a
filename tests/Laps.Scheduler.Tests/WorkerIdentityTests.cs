using System.Net;
using Laps.Scheduler.Serving.Sessions;
using Laps.Worker.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Scheduler.Tests;

/// <summary>
/// What the scheduler tells its workers about who it is (its incarnation, each sequence's prompt hash) and how it proves
/// it may call them (the pool's worker token), as the worker protocol carries it (gRPC in memory).
/// </summary>
public sealed class WorkerIdentityTests
{
    [Fact]
    public async Task Every_call_carries_this_processes_incarnation_and_every_step_the_prompt_hash()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:Name"] = "pool-x" }, grpc: true);

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 9, 8 }, max_tokens = 6 });
        await sidecar.Worker.Calls.WaitAsync(c => c.Request is ReleaseRequest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var calls = sidecar.Worker.Calls.Snapshot();
        var incarnations = calls.Select(c => c.Request switch
        {
            DescribeRequest d => d.Scheduler,
            StepRequest s => s.Scheduler,
            ReleaseRequest r => r.Scheduler,
            _ => null,
        }).ToList();
        Assert.All(incarnations, i => Assert.Equal(incarnations[0], i));
        Assert.Equal("pool-x", incarnations[0]!.Scheduler);
        Assert.Equal(16, incarnations[0]!.Incarnation.Length);
        Assert.Equal(sidecar.Services.GetRequiredService<ProcessIncarnation>().Id, Convert.ToHexStringLower(incarnations[0]!.Incarnation.Span));
        Assert.True(incarnations[0]!.LeadingSinceUnixMs > 0);
        var inputs = calls.Select(c => c.Request).OfType<StepRequest>().SelectMany(s => s.Batch).ToList();
        Assert.Equal(2, inputs.Count); // 3 + 3 tokens
        Assert.All(inputs, i => Assert.Equal(PromptHash.Of([9, 8]), i.PromptHash));
        Assert.All(calls, c => Assert.Null(c.Authorization)); // no token configured
    }

    [Fact]
    public async Task A_step_the_worker_refuses_as_failed_precondition_is_released_there_and_resumed_from_its_prefix()
    {
        await using var sidecar = await SidecarHarness.StartAsync(grpc: true);
        sidecar.Worker.Manual = true;
        var answer = sidecar.PostAsync("/v1/completions", new { prompt = new[] { 9, 8 }, max_tokens = 6 });
        await sidecar.Worker.Steps.WaitAsync(_ => true);
        sidecar.Worker.RefuseSteps = 1;
        sidecar.Worker.Manual = false;
        sidecar.Worker.Allow(100);

        using var response = await answer;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(" w1000 w1001 w1002 w1003 w1004 w1005", (await SidecarHarness.JsonAsync(response)).GetProperty("choices")[0].GetProperty("text").GetString());
        var calls = sidecar.Worker.Calls.Snapshot().Select(c => c.Request).Where(r => r is StepRequest or ReleaseRequest).ToList();
        var refused = (StepRequest)calls[1];
        var sequence = refused.Batch[0].SequenceId;
        Assert.Empty(refused.Batch[0].PromptTokenIds); // the worker was taken to hold it
        Assert.Equal([sequence], Assert.IsType<ReleaseRequest>(calls[2]).SequenceIds); // dropped there first
        var resumed = Assert.IsType<StepRequest>(calls[3]).Batch[0];
        Assert.Equal([9, 8], resumed.PromptTokenIds);
        Assert.Equal([1000, 1001, 1002], resumed.GeneratedTokenIds);
    }

    [Fact]
    public void An_incarnation_is_random_per_process_and_its_leading_time_is_fixed_by_its_first_call()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var first = new ProcessIncarnation("laps", time);
        var second = new ProcessIncarnation("laps", time);
        time.Advance(TimeSpan.FromMinutes(3)); // a standby: it called nobody yet

        var wire = first.Wire();
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(32, first.Id.Length);
        Assert.Equal(new DateTimeOffset(2025, 1, 1, 0, 3, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), wire.LeadingSinceUnixMs);
        Assert.Equal(wire, first.Wire());
        Assert.True(second.Wire().LeadingSinceUnixMs > wire.LeadingSinceUnixMs);
    }

    [Fact]
    public async Task With_a_worker_token_file_every_call_carries_the_token()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "s3cret\n");
        try
        {
            await using var sidecar = await SidecarHarness.StartAsync(
                new Dictionary<string, string?> { ["Scheduler:WorkerTokenFile"] = file },
                configureWorkers: w => w.AcceptedAuthorizations = ["Bearer s3cret"],
                grpc: true);

            using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 9, 8 }, max_tokens = 6 });

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.All(sidecar.Worker.Calls.Snapshot(), c => Assert.Equal("Bearer s3cret", c.Authorization));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task While_a_worker_refuses_a_rotated_token_the_scheduler_sends_the_one_it_replaced()
    {
        var file = Path.GetTempFileName();
        var time = new FakeTimeProvider();
        await File.WriteAllTextAsync(file, "old-token");
        try
        {
            await using var sidecar = await SidecarHarness.StartAsync(
                services: s => s.AddSingleton(WorkerToken.FromFile(file, time)),
                configureWorkers: w => w.AcceptedAuthorizations = ["Bearer old-token"],
                grpc: true);

            await File.WriteAllTextAsync(file, "new-token");
            time.Advance(WorkerToken.ReloadInterval); // the scheduler's copy of the Secret changed; the worker's not yet
            var before = sidecar.Worker.Calls.Count;
            using var during = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 9, 8 }, max_tokens = 3 });
            // Steps only: a Describe probe of the worker's health may interleave with them.
            var rotation = sidecar.Worker.Calls.Snapshot().Skip(before).Where(c => c.Request is StepRequest).Select(c => c.Authorization).ToList();

            sidecar.Worker.AcceptedAuthorizations = ["Bearer new-token"];
            var after = sidecar.Worker.Calls.Count;
            using var later = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 7 }, max_tokens = 3 });

            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            Assert.Equal(["Bearer new-token", "Bearer old-token"], rotation.Take(2));
            Assert.Equal(HttpStatusCode.OK, later.StatusCode);
            Assert.Equal("Bearer new-token", sidecar.Worker.Calls.Snapshot().Skip(after).First(c => c.Request is StepRequest).Authorization);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
