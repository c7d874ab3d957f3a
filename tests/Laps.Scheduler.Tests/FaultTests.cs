using System.Net;

namespace Laps.Scheduler.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task WorkerFailsOnce_TheRequestResumes_ResendingItsPrefix()
    {
        await using var sidecar = await SidecarHarness.StartAsync(grpc: true);
        sidecar.Worker.FailFromCall = 1; // the second step fails and the worker forgets everything
        sidecar.Worker.FailSteps = 1;

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 9, 8 }, max_tokens = 6 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await SidecarHarness.JsonAsync(response);
        Assert.Equal(" w1000 w1001 w1002 w1003 w1004 w1005", body.GetProperty("choices")[0].GetProperty("text").GetString());
        var steps = sidecar.Worker.Steps.Snapshot();
        Assert.Equal(3, steps.Count); // ok, failed, ok
        Assert.Equal([9, 8], steps[2].Batch[0].PromptTokenIds);
        Assert.Equal([1000, 1001, 1002], steps[2].Batch[0].GeneratedTokenIds);
    }

    [Fact]
    public async Task WorkerKeepsFailing_TheRequestGets502WithAnErrorBody()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:MaxStepFailures"] = "2" }, grpc: true);
        sidecar.Worker.FailSteps = 2;

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("worker_error", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Equal(0, sidecar.Pool.Held);
    }

    [Fact]
    public async Task EvictedSequence_IsRecomputedFromPromptAndGeneratedTokens()
    {
        await using var sidecar = await SidecarHarness.StartAsync(grpc: true);
        sidecar.Worker.EvictOnNextStep = true;

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 4 }, max_tokens = 6 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var steps = sidecar.Worker.Steps.Snapshot();
        Assert.Equal([4], steps[1].Batch[0].PromptTokenIds);
        Assert.Equal([1000, 1001, 1002], steps[1].Batch[0].GeneratedTokenIds);
    }

    [Fact]
    public async Task ShutdownPastTheDrainTimeout_InFlightStreamGetsAnErrorEventThenDone()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:DrainTimeout"] = "00:00:00" }, grpc: true);
        sidecar.Worker.Manual = true;
        using var response = await sidecar.SendStreamingAsync("/v1/completions", new { prompt = "x", max_tokens = 9, stream = true });
        await sidecar.Worker.Steps.WaitAsync(_ => true);

        var stopping = sidecar.StopAsync();
        var events = await Sse.ReadAllAsync(response);
        await stopping.WaitAsync(EventLog<int>.Timeout);

        Assert.Equal("[DONE]", events[^1]);
        Assert.Contains("\"shutting_down\"", events[^2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_DrainsAdmittedRequests_AndRefusesNewOnes()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:DrainTimeout"] = "00:00:30" }, grpc: true);
        sidecar.Worker.Manual = true;
        var admitted = sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 6 });
        await sidecar.Worker.Steps.WaitAsync(_ => true);

        var stopping = sidecar.StopAsync();
        using var refused = await sidecar.PostAsync("/v1/completions", new { prompt = "y" });
        sidecar.Worker.Allow(10);
        using var finished = await admitted;
        await stopping.WaitAsync(EventLog<int>.Timeout);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
        Assert.Equal(6, (await SidecarHarness.JsonAsync(finished)).GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }
}
