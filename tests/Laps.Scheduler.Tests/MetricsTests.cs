using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Laps.Scheduler.Tests;

public sealed partial class MetricsTests
{
    public static TheoryData<string, string> Names => new()
    {
        { "laps_request_duration_seconds", "histogram" },
        { "laps_time_to_first_token_seconds", "histogram" },
        { "laps_queue_wait_seconds", "histogram" },
        { "laps_requests_queued", "gauge" },
        { "laps_requests_running", "gauge" },
        { "laps_worker_ready", "gauge" },
        { "laps_perceptible_requests", "gauge" },
        { "laps_preemptions_total", "counter" },
        { "laps_drafted_tokens_total", "counter" },
        { "laps_accepted_tokens_total", "counter" },
        { "laps_generated_tokens_total", "counter" },
        { "laps_request_acceptance_ratio", "histogram" },
        { "laps_execution_time_estimate_relative_error_ratio", "histogram" },
        { "laps_worker_step_duration_seconds", "histogram" },
        { "laps_rejected_requests_total", "counter" },
        { "laps_worker_step_failures_total", "counter" },
        { "laps_cancelled_requests_total", "counter" },
        { "laps_migrated_requests_total", "counter" },
    };

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Metrics_AfterTraffic_ExposesTheMetricWithHelpAndType(string name, string type)
    {
        var text = await ScrapeAfterTrafficAsync();

        Assert.Contains($"# HELP {name} ", text, StringComparison.Ordinal);
        Assert.Contains($"# TYPE {name} {type}\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_CountTokensAndRejections()
    {
        var text = await ScrapeAfterTrafficAsync();
        var samples = Parse(text);

        // One request of 7 tokens: 3 steps of 3 drafts, 2 + 2 + 0 accepted.
        Assert.Equal(9, samples["laps_drafted_tokens_total{worker=\"worker-0:5000\"}"]);
        Assert.Equal(4, samples["laps_accepted_tokens_total{worker=\"worker-0:5000\"}"]);
        Assert.Equal(7, samples["laps_generated_tokens_total{worker=\"worker-0:5000\"}"]);
        Assert.Equal(0, samples["laps_requests_queued{level=\"0\"}"]);
        Assert.Equal(1, samples["laps_request_duration_seconds_count"]);
        Assert.Equal(1, samples["laps_time_to_first_token_seconds_count"]);
        Assert.Equal(3, samples["laps_worker_step_duration_seconds_count{worker=\"worker-0:5000\"}"]);
        Assert.Equal(1, samples["laps_rejected_requests_total{reason=\"unknown_model\"}"]);
        Assert.Equal(0, samples["laps_requests_running{worker=\"worker-0:5000\"}"]);
        Assert.Equal(1, samples["laps_worker_ready{worker=\"worker-0:5000\"}"]);
    }

    [Fact]
    public async Task EveryLabelledCounter_HasAZeroSampleForAWorkerBeforeItsFirstEvent()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        var samples = Parse(await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));

        foreach (var counter in new[] { "laps_preemptions_total", "laps_drafted_tokens_total", "laps_accepted_tokens_total", "laps_generated_tokens_total", "laps_worker_step_failures_total" })
        {
            Assert.Equal(0, samples[counter + "{worker=\"worker-0:5000\"}"]);
        }

        Assert.Equal(0, samples["laps_rejected_requests_total{reason=\"queue_full\"}"]);
        Assert.Equal(0, samples["laps_rejected_requests_total{reason=\"internal_error\"}"]);
        Assert.Equal(0, samples["laps_cancelled_requests_total"]);
    }

    [Fact]
    public async Task Metrics_TextParses_AndPassesPromtool()
    {
        var text = await ScrapeAfterTrafficAsync();

        Assert.NotEmpty(Parse(text)); // every line is a comment or a well-formed sample
        var promtool = FindOnPath("promtool");
        Assert.True(promtool is not null, "promtool is not installed: run scripts/install-tools.sh");

        var start = new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(EventLog<int>.Timeout);
        Assert.True(process.ExitCode == 0, $"promtool check metrics failed: {await stdout} {await stderr}");
    }

    [Fact]
    public async Task Laps_RequestThatBecamePerceptible_RecordsTheEstimateError()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:Policy"] = "laps" });

        // 20 steps at a steady 2/3 acceptance: stable (perceptible) after the 5-step window.
        using (await sidecar.PostAsync("/v1/completions", new { prompt = "hello", max_tokens = 60 }))
        {
        }

        var samples = Parse(await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(1, samples["laps_execution_time_estimate_relative_error_ratio_count"]);
        Assert.Equal(0, samples["laps_perceptible_requests"]); // it left
        Assert.Equal(1, samples["laps_request_acceptance_ratio_count"]);
    }

    [Fact]
    public async Task Queued_CountsWaitingRequestsByTheirQueueLevel()
    {
        // MLFQ, one slot, 10 ms steps: the top level's quantum is 2 steps, so after 3 steps a request is at level 1.
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:Policy"] = "mlfq",
            ["Scheduler:Batch"] = "1",
            ["Scheduler:StepSeconds"] = "0.01",
        });
        var worker = sidecar.Worker;
        worker.Manual = true;
        var longRequest = sidecar.PostAsync("/v1/completions", new { prompt = "long", max_tokens = 90 });
        var longId = (await worker.Steps.WaitAsync(_ => true)).Batch[0].SequenceId;
        worker.Allow(3);
        await worker.Steps.WaitAsync(_ => true, skip: 3);

        // A newcomer enters level 0 and takes the slot; the long request waits one level down.
        var shortRequest = sidecar.PostAsync("/v1/completions", new { prompt = "short", max_tokens = 3 });
        await sidecar.Admitted.WaitAsync(_ => true, skip: 1);
        worker.Allow();
        var step = await worker.Steps.WaitAsync(_ => true, skip: 4);
        Assert.NotEqual(longId, step.Batch[0].SequenceId);

        var samples = Parse(await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(0, samples["laps_requests_queued{level=\"0\"}"]);
        Assert.Equal(1, samples["laps_requests_queued{level=\"1\"}"]);
        worker.Allow(1000);
        using (await shortRequest)
        using (await longRequest)
        {
        }
    }

    private static async Task<string> ScrapeAfterTrafficAsync()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:Policy"] = "laps" });
        using (await sidecar.PostAsync("/v1/completions", new { prompt = "hello", max_tokens = 7 }))
        using (await sidecar.PostAsync("/v1/completions", new { prompt = "hello", model = "nope" }))
        {
        }

        using var response = await sidecar.Client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    internal static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(CommentLine(), line);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a sample line: {line}");
            samples[match.Groups["series"].Value] = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
        }

        return samples;
    }

    private static string? FindOnPath(string tool)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$")]
    private static partial Regex CommentLine();

    [GeneratedRegex(@"^(?<series>[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""[^""]*"",?)*\})?) (?<value>[-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))$")]
    private static partial Regex SampleLine();
}
