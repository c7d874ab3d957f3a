using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Laps.Cli.Commands;

namespace Laps.Cli.Tests;

/// <summary>API keys and fair share over real loopback sockets: `laps up`'s local pool (the sidecar and a gRPC sim worker).</summary>
public sealed class TenantEndToEndTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Without_a_key_or_with_a_wrong_one_a_client_gets_401_and_with_its_key_it_is_served()
    {
        var keys = _dir.File("keys");
        File.WriteAllText(keys, "sk-local-one team-a\n");
        using var timeout = new CancellationTokenSource(Bound);
        await using var pool = await LocalPool.StartAsync(
            UpCommand.Parse("--workers", "1", "--port", "0", "--time-scale", "50", "--api-key-file", keys), timeout.Token);
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };
        await ReadyAsync(http, timeout.Token);

        foreach (var key in new[] { null, "sk-local-two" })
        {
            using var refused = await PostAsync(http, key, null, maxTokens: 4);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
            using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("invalid_api_key", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        using var served = await PostAsync(http, "sk-local-one", null, maxTokens: 4);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        using var metrics = await http.GetAsync(new Uri("metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("laps_tenant_requests_total{tenant=\"team-a\",outcome=\"admitted\"} 1", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flooding_tenant_gets_429_while_another_tenant_is_still_admitted_and_served()
    {
        // Real time and a workload of long answers (median 1340 tokens): the greedy tenant's requests run for seconds.
        using var timeout = new CancellationTokenSource(Bound);
        await using var pool = await LocalPool.StartAsync(
            UpCommand.Parse("--workers", "1", "--port", "0", "--batch", "1", "--max-queued", "4", "--workload", "reasoning"), timeout.Token);
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };
        using var stopGreedy = new CancellationTokenSource();
        await ReadyAsync(http, timeout.Token);

        // Ten at once: one runs and four wait (alone, it may use the whole queue); the rest are turned away.
        var greedy = Enumerable.Range(0, 10).Select(_ => PostAsync(http, null, "greedy", maxTokens: 8000, cancellationToken: stopGreedy.Token)).ToList();
        using (var turnedAway = await await Task.WhenAny(greedy))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, turnedAway.StatusCode);
            Assert.Equal("queue_full", await CodeAsync(turnedAway));
        }

        // The polite tenant still gets in (a stream's headers come once it is admitted); while it has work, the greedy
        // one is held to half the queue, which it already fills.
        using var polite = await PostAsync(http, null, "polite", maxTokens: 200, stream: true, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, polite.StatusCode);
        using (var flooding = await PostAsync(http, null, "greedy", maxTokens: 8, cancellationToken: timeout.Token))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, flooding.StatusCode);
            Assert.Equal("tenant_queue_full", await CodeAsync(flooding));
        }

        // And it is served to the end next to the greedy one's requests.
        var events = await polite.Content.ReadAsStringAsync(timeout.Token);
        Assert.EndsWith("data: [DONE]", events.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("\"finish_reason\":", events, StringComparison.Ordinal);

        await stopGreedy.CancelAsync();
        var admitted = 0;
        foreach (var g in greedy)
        {
            try
            {
                using var response = await g;
                Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            }
            catch (OperationCanceledException)
            {
                admitted++;
            }
        }

        Assert.InRange(admitted, 4, 5); // four waiting, and the one running if the worker had taken it
    }

    // The pool answers once its worker described itself (before, a request gets 503 no_workers).
    private static async Task ReadyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative), cancellationToken);
            if (ready.IsSuccessStatusCode)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }

    private static async Task<string?> CodeAsync(HttpResponseMessage response)
    {
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("error").GetProperty("code").GetString();
    }

    private static Task<HttpResponseMessage> PostAsync(
        HttpClient http, string? key, string? tenant, int maxTokens, bool stream = false, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = JsonContent.Create(new { model = "laps-sim", prompt = "Tell me a story", max_tokens = maxTokens, stream }),
        };
        if (key is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        if (tenant is not null)
        {
            request.Headers.Add("X-Laps-Tenant", tenant);
        }

        return http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }
}
