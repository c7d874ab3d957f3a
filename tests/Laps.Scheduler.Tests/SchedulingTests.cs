using System.Net;

namespace Laps.Scheduler.Tests;

public sealed class SchedulingTests
{
    [Theory]
    [InlineData("srpt")]
    [InlineData("laps")]
    public async Task ShorterArrival_PreemptsTheRunningRequest_AtBatchOne(string policy)
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:Policy"] = policy,
            ["Scheduler:Batch"] = "1",
        });
        var worker = sidecar.Worker;
        worker.Manual = true;
        var longRequest = sidecar.PostAsync("/v1/completions", new { prompt = "long", max_tokens = 90 });
        var longStep = await worker.Steps.WaitAsync(_ => true);
        var longId = longStep.Batch[0].SequenceId;

        // The short one arrives while the long one runs; then steps go through one at a time until it gets the slot.
        var shortRequest = sidecar.PostAsync("/v1/completions", new { prompt = "short", max_tokens = 3 });
        await sidecar.Admitted.WaitAsync(_ => true, skip: 1);
        var seen = 1;
        Laps.Worker.V1.StepRequest step;
        do
        {
            worker.Allow();
            step = await worker.Steps.WaitAsync(_ => true, skip: seen++);
        }
        while (step.Batch[0].SequenceId == longId);

        // The long request lost its slot without finishing: a preemption, and its KV stays on the worker.
        Assert.True(worker.Holds(longId));
        Assert.NotEmpty(step.Batch[0].PromptTokenIds); // the short request is new: it carries its prompt
        worker.Allow(1000);
        using var shortResponse = await shortRequest;
        using var longResponse = await longRequest;

        var longBody = await SidecarHarness.JsonAsync(longResponse);
        Assert.Equal(90, longBody.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.True(longBody.GetProperty("laps").GetProperty("preemptions").GetInt32() >= 1);
        Assert.Equal(HttpStatusCode.OK, shortResponse.StatusCode);

        // Resumed from the kept KV: no step after the first carried the long request's prompt again.
        var longSteps = worker.Steps.Snapshot().Where(s => s.Batch[0].SequenceId == longId).ToList();
        Assert.All(longSteps.Skip(1), s => Assert.Empty(s.Batch[0].PromptTokenIds));
        var metrics = await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("laps_preemptions_total{worker=\"worker-0:5000\"} ", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("laps_preemptions_total{worker=\"worker-0:5000\"} 0", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fcfs_DoesNotPreempt()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:Batch"] = "1" });
        var worker = sidecar.Worker;
        worker.Manual = true;
        var longRequest = sidecar.PostAsync("/v1/completions", new { prompt = "long", max_tokens = 9 });
        await worker.Steps.WaitAsync(_ => true);
        var shortRequest = sidecar.PostAsync("/v1/completions", new { prompt = "short", max_tokens = 3 });
        await sidecar.Admitted.WaitAsync(_ => true, skip: 1);

        worker.Allow(1000);
        using var longResponse = await longRequest;
        using var shortResponse = await shortRequest;

        var body = await SidecarHarness.JsonAsync(longResponse);
        Assert.Equal(0, body.GetProperty("laps").GetProperty("preemptions").GetInt32());
        var order = worker.Steps.Snapshot().Select(s => s.Batch[0].SequenceId).Distinct().ToList();
        Assert.Equal(2, order.Count);
        Assert.Equal(worker.Steps.Snapshot()[0].Batch[0].SequenceId, order[0]);
    }

    [Theory]
    [InlineData(null, 12)] // the default (once a fixed 8): each worker's own maximum (an engine adapter's is the engine's cap)
    [InlineData("2", 2)]   // a configured batch below it
    [InlineData("20", 12)] // a configured batch above it is capped
    public async Task The_batch_is_the_workers_own_maximum_unless_configured_lower(string? configured, int expected)
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            configured is null ? null : new Dictionary<string, string?> { ["Scheduler:Batch"] = configured },
            configureWorkers: w => w.MaxBatch = 12);
        var worker = sidecar.Worker;
        worker.Manual = true;
        var requests = Enumerable.Range(0, 14).Select(i => sidecar.PostAsync("/v1/completions", new { prompt = $"p{i}", max_tokens = 40 })).ToList();
        await sidecar.Admitted.WaitAsync(_ => true, skip: 13);

        var seen = 0;
        var widest = 0;
        while (widest < expected && seen < 200)
        {
            worker.Allow();
            widest = Math.Max(widest, (await worker.Steps.WaitAsync(_ => true, skip: seen++)).Batch.Count);
        }

        worker.Allow(10_000);
        foreach (var request in requests)
        {
            using var response = await request;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(expected, worker.Steps.Snapshot().Max(s => s.Batch.Count));
    }

    [Fact]
    public async Task BatchOfMany_RunsConcurrentRequestsInOneStep()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:Batch"] = "4" });
        var worker = sidecar.Worker;
        worker.Manual = true;
        var first = sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 90 });
        await worker.Steps.WaitAsync(_ => true);
        var second = sidecar.PostAsync("/v1/completions", new { prompt = "b", max_tokens = 30 });
        await sidecar.Admitted.WaitAsync(_ => true, skip: 1);

        var seen = 1;
        Laps.Worker.V1.StepRequest step;
        do
        {
            worker.Allow();
            step = await worker.Steps.WaitAsync(_ => true, skip: seen++);
        }
        while (step.Batch.Count < 2);

        worker.Allow(1000);
        using var a = await first;
        using var b = await second;
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
    }
}
