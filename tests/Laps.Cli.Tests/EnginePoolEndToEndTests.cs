using System.ClientModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Laps.Cli.Commands;
using OpenAI;
using OpenAI.Chat;

namespace Laps.Cli.Tests;

/// <summary>
/// `laps up --engine vllm|sglang` over real loopback sockets: the official OpenAI SDK → the scheduler → the engine
/// adapters → emulated engines, with LAPS-SD preempting (the adapters abort and resubmit) under load.
/// </summary>
public sealed class EnginePoolEndToEndTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("vllm")]
    [InlineData("sglang")]
    public async Task The_OpenAI_SDK_gets_chat_and_completions_streamed_and_not_while_LAPS_preempts(string engine)
    {
        using var timeout = new CancellationTokenSource(Bound);
        await using var pool = await LocalPool.StartAsync(
            UpCommand.Parse("--engine", engine, "--workers", "2", "--port", "0", "--batch", "2", "--time-scale", "1", "--policy", "laps", "--max-queued", "64"),
            timeout.Token);
        var chat = new ChatClient("laps-sim", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(pool.Url, "v1") });
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };

        // Long requests take both workers' slots and gain attained service while the chat requests run; the short ones
        // that arrive after them are new to LAPS-SD's top queue, so it preempts the long ones for them.
        var longOnes = Enumerable.Range(0, 4).Select(i => CompleteAsync(http, new[] { 100 + i, 7, 8, 9 }, 300, timeout.Token)).ToList();

        ChatCompletion answer = await chat.CompleteChatAsync([new UserChatMessage("Tell me about schedulers")], new ChatCompletionOptions { MaxOutputTokenCount = 20 }, timeout.Token);
        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("And about speculative decoding?")],
            new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 0.5f },
            timeout.Token))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }

            finish ??= update.FinishReason;
        }

        var shortOnes = Enumerable.Range(0, 6).Select(i => CompleteAsync(http, new[] { 200 + i, 5 }, 12, timeout.Token)).ToList();
        var completions = await Task.WhenAll(longOnes.Concat(shortOnes));

        Assert.False(string.IsNullOrWhiteSpace(answer.Content[0].Text));
        Assert.Equal(ChatFinishReason.Length, answer.FinishReason);
        Assert.Equal(20, answer.Usage.OutputTokenCount);
        Assert.False(string.IsNullOrWhiteSpace(streamed.ToString()));
        Assert.Equal(ChatFinishReason.Length, finish);
        // Each ends at its max_tokens or where the model stops: nothing lost, nothing repeated across the resumes.
        Assert.All(completions.Take(4), c => Assert.True(c.Finish == "length" ? c.CompletionTokens == 300 : c.Finish == "stop" && c.CompletionTokens < 300, c.ToString()));
        Assert.All(completions.Skip(4), c => Assert.True(c.Finish == "length" ? c.CompletionTokens == 12 : c.Finish == "stop" && c.CompletionTokens < 12, c.ToString()));
        Assert.True(completions.Sum(c => c.Preemptions) > 0, "LAPS-SD never preempted: the test did not exercise resumes");

        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative), timeout.Token);
        Assert.Contains("laps_preemptions_total", metrics, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?m)^laps_rejected_requests_total\{reason=""worker_error""\} [1-9]", metrics);
    }

    private static async Task<(int CompletionTokens, int Preemptions, string? Finish)> CompleteAsync(HttpClient http, int[] prompt, int maxTokens, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            "v1/completions", new { model = "laps-sim", prompt, max_tokens = maxTokens }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        using var json = JsonDocument.Parse(body);
        return (json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(),
            json.RootElement.GetProperty("laps").GetProperty("preemptions").GetInt32(),
            json.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }
}
