using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Laps.Cli.Tests;

/// <summary>`laps bench` against a fake OpenAI server on a real loopback socket.</summary>
public sealed class BenchCommandTests : IAsyncLifetime
{
    private WebApplication _server = null!;
    private int _calls;
    private int _rejectEvery;
    private readonly List<JsonElement> _bodies = [];
    private readonly List<(string Authorization, string Tenant)> _headers = [];

    private string Url => _server.Urls.First();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapPost("/v1/completions", async (HttpContext context) =>
        {
            var call = Interlocked.Increment(ref _calls);
            using var body = await JsonDocument.ParseAsync(context.Request.Body);
            lock (_bodies)
            {
                _bodies.Add(body.RootElement.Clone());
                _headers.Add((context.Request.Headers.Authorization.ToString(), context.Request.Headers["X-Laps-Tenant"].ToString()));
            }

            if (_rejectEvery > 0 && call % _rejectEvery == 0)
            {
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                return;
            }

            context.Response.ContentType = "text/event-stream";
            foreach (var word in new[] { "one", " two", " three" })
            {
                await context.Response.WriteAsync($"data: {{\"choices\":[{{\"index\":0,\"text\":\"{word}\"}}]}}\n\n");
                await context.Response.Body.FlushAsync();
            }

            await context.Response.WriteAsync("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}\n\n");
            await context.Response.WriteAsync("data: [DONE]\n\n");
        });
        await _server.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void The_api_key_and_the_tenant_go_with_every_request()
    {
        var (exitCode, _, stderr) = new Cli().Run(
            "bench", "--target", Url, "--workload", "gsm8k", "--requests", "4", "--rate", "400", "--json", "--api-key", "sk-bench", "--tenant", "team-b");

        Assert.True(exitCode == 0, stderr);
        Assert.Equal(4, _headers.Count);
        Assert.All(_headers, h => Assert.Equal(("Bearer sk-bench", "team-b"), h));
    }

    [Theory]
    [InlineData("--tenant", "a b", "--tenant: 'a b' holds a character")]
    [InlineData("--api-key", "has space", "--api-key: a key is visible ASCII")]
    public void A_bad_key_or_tenant_is_refused_naming_the_option(string option, string value, string message)
    {
        var (exitCode, _, stderr) = new Cli().Run("bench", "--target", Url, "--rate", "1", option, value);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Empty(_headers);
    }

    [Fact]
    public void Every_request_completes_and_the_report_has_the_contract_fields()
    {
        var (exitCode, stdout, stderr) = new Cli().Run(
            "bench", "--target", Url, "--workload", "gsm8k", "--requests", "12", "--rate", "400", "--json", "--timeout", "30");

        Assert.True(exitCode == 0, stderr);
        using var report = JsonDocument.Parse(stdout);
        var root = report.RootElement;
        foreach (var field in new[] { "requests", "completed", "errors", "duration_s", "mean_latency_s", "p50_latency_s", "p99_latency_s", "mean_ttft_s", "tokens_per_s", "throughput_p90_rps" })
        {
            Assert.True(root.TryGetProperty(field, out _), field);
        }

        Assert.Equal(12, root.GetProperty("requests").GetInt32());
        Assert.Equal(12, root.GetProperty("completed").GetInt32());
        Assert.Equal(0, root.GetProperty("errors").GetInt32());
        Assert.True(root.GetProperty("mean_ttft_s").GetDouble() <= root.GetProperty("mean_latency_s").GetDouble());
        Assert.True(root.GetProperty("tokens_per_s").GetDouble() > 0);
    }

    [Fact]
    public void Prompts_go_out_as_token_ids_streamed_with_the_fixed_max_tokens_real_clients_send()
    {
        var (exitCode, stdout, stderr) = new Cli().Run("bench", "--target", Url, "--workload", "chat", "--requests", "3", "--rate", "400", "--json");

        Assert.True(exitCode == 0, stderr);
        Assert.Equal(3, _bodies.Count);
        Assert.All(_bodies, b =>
        {
            Assert.Equal(JsonValueKind.Array, b.GetProperty("prompt").ValueKind);
            Assert.True(b.GetProperty("stream").GetBoolean());
            Assert.Equal(4096, b.GetProperty("max_tokens").GetInt32());
        });
        using var report = JsonDocument.Parse(stdout);
        Assert.Equal("4096", report.RootElement.GetProperty("max_tokens").GetString());
    }

    [Fact]
    public void Max_tokens_trace_sends_each_prompts_own_output_length_and_the_report_says_so()
    {
        var (exitCode, stdout, stderr) = new Cli().Run("bench", "--target", Url, "--workload", "chat", "--requests", "12", "--rate", "400", "--max-tokens", "trace");

        Assert.True(exitCode == 0, stderr);
        Assert.True(_bodies.Select(b => b.GetProperty("max_tokens").GetInt32()).Distinct().Count() > 1, "every request sent the same max_tokens");
        Assert.Contains("max_tokens: each request's own output length", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Max_tokens_sends_one_fixed_limit_instead_of_each_prompts_own_length()
    {
        var (exitCode, _, stderr) = new Cli().Run("bench", "--target", Url, "--workload", "chat", "--requests", "4", "--rate", "400", "--max-tokens", "8192", "--json");

        Assert.True(exitCode == 0, stderr);
        Assert.All(_bodies, b => Assert.Equal(8192, b.GetProperty("max_tokens").GetInt32()));
    }

    [Fact]
    public void Capacity_counts_completions_up_to_the_90th_percentile_one_not_the_drain_of_the_last()
    {
        // Nine finish within a second; the tenth, a long request, drains alone until 100 s.
        Assert.Equal(9.0, Bench.LoadGenerator.ThroughputAt90th([0.5, 1, 1, 1, 1, 1, 1, 1, 1, 100]));
        Assert.Null(Bench.LoadGenerator.ThroughputAt90th([]));
    }

    [Fact]
    public void Rejected_requests_are_counted_as_errors_by_kind_and_the_exit_status_says_the_run_failed()
    {
        _rejectEvery = 3;

        var (exitCode, stdout, stderr) = new Cli().Run("bench", "--target", Url, "--workload", "gsm8k", "--requests", "9", "--rate", "400", "--json");

        Assert.Equal(1, exitCode); // the report is printed, and the status says the run was not clean
        Assert.Contains("3 of 9 requests failed (3 × http 429)", stderr, StringComparison.Ordinal);
        using var report = JsonDocument.Parse(stdout);
        Assert.Equal(6, report.RootElement.GetProperty("completed").GetInt32());
        Assert.Equal(3, report.RootElement.GetProperty("errors").GetInt32());
        Assert.Equal(3, report.RootElement.GetProperty("error_kinds").GetProperty("http 429").GetInt32());
    }

    [Theory]
    [InlineData("--target", "ftp://x", "--target: 'ftp://x' is not an http(s) URL")]
    [InlineData("--rate", "-1", "--rate: '-1' is out of range")]
    [InlineData("--requests", "0", "--requests: '0' is out of range")]
    [InlineData("--max-tokens", "0", "--max-tokens: '0' is out of range")]
    [InlineData("--max-tokens", "all", "--max-tokens: 'all'")]
    [InlineData("--workload", "no-such-profile", "no-such-profile")]
    public void Bad_options_are_one_line_naming_the_value(string option, string value, string expected)
    {
        var args = new List<string> { "bench", "--target", Url, "--rate", "10" };
        var i = args.IndexOf(option);
        if (i >= 0)
        {
            args[i + 1] = value;
        }
        else
        {
            args.AddRange([option, value]);
        }

        var (exitCode, stdout, stderr) = new Cli().Run([.. args]);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rate_is_required_for_synthetic_arrivals()
    {
        var (exitCode, _, stderr) = new Cli().Run("bench", "--target", Url);

        Assert.Equal(2, exitCode);
        Assert.Contains("--rate", stderr, StringComparison.Ordinal);
    }
}
