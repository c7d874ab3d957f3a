using System.Net;

namespace Laps.Scheduler.Tests;

/// <summary>Sampling parameters reach the worker; what no worker honours is refused by name; prompts are tokenized by the worker.</summary>
public sealed class SamplingTests
{
    [Fact]
    public async Task SamplingParameters_ArePassedThroughToTheWorker()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 3, temperature = 0.7, top_p = 0.9, stop = new[] { "END" }, seed = 5 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = sidecar.Worker.Steps.Snapshot()[0].Batch[0].SequenceId;
        var sampling = sidecar.Worker.SamplingOf[id]!;
        Assert.Equal(0.7, sampling.Temperature);
        Assert.Equal(0.9, sampling.TopP);
        Assert.Equal(["END"], sampling.Stop);
        Assert.Equal(5, sampling.Seed);
    }

    [Theory]
    [InlineData("top_k", 5)]
    [InlineData("presence_penalty", 0.5)]
    public async Task AParameterTheWorkersDoNotHonour_Gets400NamingIt(string name, double value)
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostRawAsync("/v1/completions", $$"""{"prompt": "x", "{{name}}": {{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal(name, error.GetProperty("param").GetString());
        Assert.Equal("unsupported_parameter", error.GetProperty("code").GetString());
        Assert.Equal(0, sidecar.Worker.Steps.Count);
    }

    [Theory]
    [InlineData("""{"prompt": "x", "response_format": {"type": "json_object"}}""", "response_format")]
    [InlineData("""{"prompt": "x", "logprobs": 2}""", "logprobs")]
    [InlineData("""{"prompt": "x", "echo": true}""", "echo")]
    [InlineData("""{"prompt": "x", "best_of": 3}""", "best_of")]
    [InlineData("""{"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}""", "stop")]
    [InlineData("""{"prompt": "x", "temperature": 3}""", "temperature")]
    [InlineData("""{"prompt": "x", "top_p": 0}""", "top_p")]
    [InlineData("""{"prompt": "x", "seed": "7"}""", "seed")]
    public async Task WhatCannotBeHonoured_Gets400NamingTheParameter(string body, string param)
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostRawAsync("/v1/completions", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (await SidecarHarness.JsonAsync(response)).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task DefaultsThatAskForNothing_AreAccepted()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostRawAsync(
            "/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "response_format": {"type": "text"}, "logprobs": false, "tools": [], "n": 1}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ChatMessages_AreTokenizedByTheWorkerWithItsTemplate()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hello there" } }, max_tokens = 3 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tokenized = await sidecar.Worker.Tokenized.WaitAsync(_ => true);
        Assert.Equal("user", tokenized.Messages![0].Role);
        Assert.Equal("Hello there", tokenized.Messages[0].Content);
        var prompt = sidecar.Worker.Steps.Snapshot()[0].Batch[0].PromptTokenIds;
        Assert.Equal(new Laps.Scheduler.Api.StandInTokenizer().Encode("<|user|>\nHello there\n<|assistant|>\n"), prompt);
    }

    [Fact]
    public async Task AWorkerWhosePreemptionRecomputesThePrefix_GivesRunningRequestsAResumeCost()
    {
        await using var sidecar = await SidecarHarness.StartAsync(configureWorkers: w => w.ResumeSecondsPerToken = 0.001);
        var admitted = new TaskCompletionSource<Laps.Scheduler.Serving.LiveRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        sidecar.Pool.Admitted += r => admitted.TrySetResult(r);

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 1, 2, 3, 4 }, max_tokens = 6 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var state = (await admitted.Task).State;
        Assert.Equal(0.001 * (4 + 6), state.ResumeCostSeconds, 9); // cost-aware preemption reads it
    }
}
