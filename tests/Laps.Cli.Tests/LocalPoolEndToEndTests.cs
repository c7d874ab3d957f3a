using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Laps.Cli.Commands;

namespace Laps.Cli.Tests;

/// <summary>
/// The serving path over real loopback sockets: `laps up`'s local pool (the sidecar and two gRPC sim workers),
/// driven by plain HTTP and by `laps bench`.
/// </summary>
public sealed class LocalPoolEndToEndTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private LocalPool _pool = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(Bound);
        _pool = await LocalPool.StartAsync(
            UpCommand.Parse("--workers", "2", "--port", "0", "--batch", "4", "--time-scale", "50", "--max-queued", "64"),
            timeout.Token);
    }

    public async Task DisposeAsync() => await _pool.DisposeAsync();

    [Fact]
    public void The_scheduler_assumes_the_simulators_prior_acceptance_for_the_proposer()
        => Assert.Equal(0.65, _pool.SchedulerOptions.PriorAcceptance); // ExperimentRunner.PriorAcceptance(Eagle), not the sidecar's 0.6

    [Fact]
    public async Task The_pools_workers_refuse_a_caller_without_the_token_drawn_for_the_run()
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress("http://" + _pool.WorkerAddresses[0]);
        var client = new Laps.Worker.V1.SpeculativeWorker.SpeculativeWorkerClient(channel);

        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(
            () => client.DescribeAsync(new Laps.Worker.V1.DescribeRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);

        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task A_streamed_completion_arrives_as_sse_chunks_through_the_real_workers()
    {
        using var http = new HttpClient { BaseAddress = _pool.Url, Timeout = Bound };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = JsonContent.Create(new { model = "laps-sim", prompt = new[] { 1, 2, 3, 4, 5 }, max_tokens = 24, stream = true }),
        };

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim()).ToList();

        Assert.Equal("data: [DONE]", events[^1]);
        var text = string.Concat(events.SkipLast(1)
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement)
            .Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(text));
    }

    [Fact]
    public async Task Bench_against_the_pool_completes_every_request_and_metrics_pass_promtool()
    {
        var (exitCode, stdout, stderr) = new Cli().Run(
            "bench", "--target", _pool.Url.ToString(), "--workload", "gsm8k", "--requests", "16", "--rate", "40", "--json", "--timeout", "60");

        Assert.True(exitCode == 0, stderr);
        using var report = JsonDocument.Parse(stdout);
        Assert.Equal(16, report.RootElement.GetProperty("completed").GetInt32());
        Assert.Equal(0, report.RootElement.GetProperty("errors").GetInt32());

        using var http = new HttpClient { BaseAddress = _pool.Url, Timeout = Bound };
        var metrics = await http.GetStringAsync("metrics");
        Assert.Contains("laps_accepted_tokens_total", metrics, StringComparison.Ordinal);
        Assert.Contains("laps_request_duration_seconds", metrics, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^laps_length_prediction_kendall_tau -?[0-9.]+", metrics); // the online predictor learned from the finished requests
        PromtoolAccepts(metrics);
    }

    [Theory]
    [InlineData("sim")]
    [InlineData("vllm")]
    [InlineData("sglang")]
    public async Task A_worker_stopped_mid_run_loses_no_request_and_answers_none_twice(string engine)
    {
        // Real-time workers, so that every request is still running when one of them goes away (a scale-down: an
        // engine worker's sequences resume on the other worker from their prefix, re-prefilled by its engine).
        using var timeout = new CancellationTokenSource(Bound);
        await using var pool = await LocalPool.StartAsync(
            UpCommand.Parse("--engine", engine, "--workers", "2", "--port", "0", "--batch", "4", "--time-scale", "1", "--max-queued", "64"),
            timeout.Token);
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };
        const int Requests = 6;
        var streams = new List<(HttpResponseMessage Response, StreamReader Reader)>();
        for (var i = 0; i < Requests; i++)
        {
            // Distinct prompts, long enough answers that every request is mid-stream when the worker goes away.
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = JsonContent.Create(new { model = "laps-sim", prompt = new[] { 100 + i, 7, 8, 9 }, max_tokens = 400, stream = true, temperature = 0 }),
            };
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            streams.Add((response, new StreamReader(await response.Content.ReadAsStreamAsync())));
        }

        // Every request has produced its first token before worker 0 disappears.
        var texts = new List<string>();
        foreach (var (_, reader) in streams)
        {
            texts.Add(await FirstTextAsync(reader));
        }

        await pool.StopWorkerAsync(0);

        for (var i = 0; i < Requests; i++)
        {
            var (response, reader) = streams[i];
            var rest = await reader.ReadToEndAsync();
            response.Dispose();
            var events = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim()).ToList();
            Assert.Equal("data: [DONE]", events[^1]);
            var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
            Assert.DoesNotContain(chunks, c => c.TryGetProperty("error", out _));

            // No token is lost or sent twice: the text streamed adds up to the completion tokens reported.
            var streamedWords = texts[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length
                + chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
                    .Sum(c => c.GetProperty("choices")[0].GetProperty("text").GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
            var usage = chunks.Last(c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object).GetProperty("usage");
            Assert.Equal(usage.GetProperty("completion_tokens").GetInt32(), streamedWords);
        }

        var metrics = await http.GetStringAsync("metrics");
        Assert.Matches(@"(?m)^laps_migrated_requests_total [1-9]", metrics);
    }

    [Fact]
    public async Task A_newcomer_preempts_a_long_request_on_a_real_worker_at_batch_one()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await using var pool = await LocalPool.StartAsync(
            UpCommand.Parse("--workers", "1", "--port", "0", "--batch", "1", "--time-scale", "1", "--max-queued", "64"),
            timeout.Token);
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };

        using var longRequest = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = JsonContent.Create(new { model = "laps-sim", prompt = new[] { 11, 12, 13 }, max_tokens = 300, stream = true, seed = 3 }),
        };
        using var longResponse = await http.SendAsync(longRequest, HttpCompletionOption.ResponseHeadersRead);
        using var longReader = new StreamReader(await longResponse.Content.ReadAsStreamAsync());
        await FirstTextAsync(longReader);

        // LAPS-SD gives a newcomer's first quantum the top queue: it takes the only batch slot at the next step.
        using var shortResponse = await http.PostAsJsonAsync("v1/completions", new { model = "laps-sim", prompt = new[] { 21, 22 }, max_tokens = 4 });
        shortResponse.EnsureSuccessStatusCode();
        var rest = await longReader.ReadToEndAsync();

        var usage = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim())
            .Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement)
            .Last(c => c.TryGetProperty("laps", out _));
        Assert.True(usage.GetProperty("laps").GetProperty("preemptions").GetInt32() >= 1, usage.ToString());
        Assert.Matches(@"(?m)^laps_preemptions_total\{[^}]*\} [1-9]", await http.GetStringAsync("metrics"));
    }

    private static async Task<string> FirstTextAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: {", StringComparison.Ordinal)
                && JsonDocument.Parse(line["data: ".Length..]).RootElement.GetProperty("choices") is { } choices
                && choices.GetArrayLength() > 0
                && choices[0].GetProperty("text").GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }

        throw new InvalidOperationException("the stream ended before its first token");
    }

    /// <summary>`promtool check metrics` (installed by .ci/run) must accept the exposition.</summary>
    private static void PromtoolAccepts(string metrics)
    {
        var info = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception) when (Environment.GetEnvironmentVariable("CI") is null)
        {
            return; // not installed on a developer machine; CI installs it
        }

        using (process)
        {
            process.StandardInput.Write(metrics);
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(Bound), "promtool did not finish");
            Assert.True(process.ExitCode == 0, output);
        }
    }
}
