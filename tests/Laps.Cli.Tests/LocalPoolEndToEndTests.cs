using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Laps.Cli.Commands;
using Laps.Scheduling.Estimation;

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
            new LocalPoolSettings(2, "127.0.0.1", 0, "laps", 4, "chat", 50, ProposerKind.Eagle, 4, 64, "laps-sim", null, null),
            timeout.Token);
    }

    public async Task DisposeAsync() => await _pool.DisposeAsync();

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
