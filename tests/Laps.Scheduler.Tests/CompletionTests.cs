using System.Net;
using System.Text.Json;

namespace Laps.Scheduler.Tests;

public sealed class CompletionTests
{
    [Fact]
    public async Task Completion_NotStreamed_ReturnsTextUsageAndDraftedAccepted()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostAsync("/v1/completions", new { model = "test-model", prompt = "hello world", max_tokens = 7 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await SidecarHarness.JsonAsync(response);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("test-model", body.GetProperty("model").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(" w1000 w1001 w1002 w1003 w1004 w1005 w1006", choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(2, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(7, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(9, usage.GetProperty("total_tokens").GetInt32());

        // Three steps of 3 drafts: 3 + 3 + 1 tokens emitted, so 2 + 2 + 0 drafts accepted.
        var laps = body.GetProperty("laps");
        Assert.Equal(9, laps.GetProperty("drafted_tokens").GetInt32());
        Assert.Equal(4, laps.GetProperty("accepted_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_WorkerStops_FinishReasonIsStop()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        sidecar.Worker.NaturalLength = 4;

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "hi", max_tokens = 50 });

        var body = await SidecarHarness.JsonAsync(response);
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(4, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_Streamed_YieldsChunksThenDone()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.SendStreamingAsync("/v1/completions", new { prompt = "hello", max_tokens = 5, stream = true });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.ReadAllAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(3, chunks.Count); // 3 tokens, 2 tokens, then the finish chunk
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Equal(" w1000 w1001 w1002", chunks[0].GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(" w1003 w1004", chunks[1].GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("length", chunks[2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(5, chunks[2].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(6, chunks[2].GetProperty("laps").GetProperty("drafted_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatCompletion_NotStreamed_ReturnsAssistantMessage()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostAsync("/v1/chat/completions", new
        {
            model = "test-model",
            messages = new object[] { new { role = "system", content = "be brief" }, new { role = "user", content = "hello" } },
            max_tokens = 3,
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await SidecarHarness.JsonAsync(response);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var message = body.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal(" w1000 w1001 w1002", message.GetProperty("content").GetString());
        Assert.True(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 2);
    }

    [Fact]
    public async Task ChatCompletion_Streamed_FirstDeltaCarriesTheRole()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.SendStreamingAsync("/v1/chat/completions", new
        {
            messages = new object[] { new { role = "user", content = "hello" } },
            max_tokens = 4,
            stream = true,
        });

        var events = await Sse.ReadAllAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var first = JsonDocument.Parse(events[0]).RootElement;
        Assert.Equal("chat.completion.chunk", first.GetProperty("object").GetString());
        var delta = first.GetProperty("choices")[0].GetProperty("delta");
        Assert.Equal("assistant", delta.GetProperty("role").GetString());
        Assert.Equal(" w1000 w1001 w1002", delta.GetProperty("content").GetString());
    }

    [Fact]
    public async Task TokenIdPrompt_PassesThroughToTheWorker()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 5, 6, 7, 31999 }, max_tokens = 2, seed = 42 });

        var body = await SidecarHarness.JsonAsync(response);
        Assert.Equal(4, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        var first = sidecar.Worker.Steps.Snapshot()[0].Batch[0];
        Assert.Equal([5, 6, 7, 31999], first.PromptTokenIds);
        Assert.Equal(2, first.MaxTokens);
        Assert.Equal(42UL, first.Seed);
    }

    [Fact]
    public async Task ResidentSequence_LaterStepsOmitThePrompt_AndFinishedSequenceIsReleased()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = new[] { 1, 2 }, max_tokens = 7 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var steps = sidecar.Worker.Steps.Snapshot();
        Assert.Equal(3, steps.Count);
        Assert.NotEmpty(steps[0].Batch[0].PromptTokenIds);
        Assert.Empty(steps[1].Batch[0].PromptTokenIds);
        var id = steps[0].Batch[0].SequenceId;
        await sidecar.Worker.Released.WaitAsync(r => r == id);
        Assert.False(sidecar.Worker.Holds(id));
    }

    [Fact]
    public async Task Models_ListsTheConfiguredModel()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        var body = await SidecarHarness.JsonAsync(await sidecar.Client.GetAsync(new Uri("/v1/models", UriKind.Relative)));

        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal("test-model", body.GetProperty("data")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task Readyz_AfterAWorkerAnswered_IsOk()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        using var served = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 1 }); // Describe came first

        using var health = await sidecar.Client.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var ready = await sidecar.Client.GetAsync(new Uri("/readyz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
