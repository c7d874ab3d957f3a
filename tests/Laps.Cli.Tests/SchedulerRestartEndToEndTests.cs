using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Laps.Cli;
using Laps.Emulation;
using Laps.Worker;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Laps.Cli.Tests;

/// <summary>
/// A `laps scheduler` process killed with SIGKILL under load and started again against the same workers (which keep
/// what the dead process left on them): no answer of the new process carries anything of the old one's sequences.
/// The workers run in this process, guarded by a worker token; the scheduler is a real child process.
/// </summary>
public sealed class SchedulerRestartEndToEndTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_scheduler_killed_under_load_and_restarted_answers_every_request_as_a_quiet_rerun_and_the_workers_keep_nothing_of_the_old_one()
    {
        using var timeout = new CancellationTokenSource(Bound);
        using var directory = new TempDirectory();
        var tokenFile = directory.File("worker-token");
        await File.WriteAllTextAsync(tokenFile, WorkerToken.Generate() + "\n", timeout.Token);
        var workers = new List<WebApplication>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var options = new SimWorkerOptions { WorkerId = "restart-" + i, TimeScale = 10, Workload = "chat" };
                var worker = WorkerHost.Build(options, "127.0.0.1", 0, b => b.Logging.ClearProviders(), _ => WorkerToken.FromFile(tokenFile));
                await worker.StartAsync(timeout.Token);
                workers.Add(worker);
            }

            var addresses = string.Join(',', workers.Select(w => w.BoundAddresses()[0]).Select(u => $"{u.Host}:{u.Port}"));
            int Held() => workers.Sum(w => w.Services.GetRequiredService<SimEngine>().HeldSequences);
            var port = EmulatorHost.FreePort();
            var prompts = Enumerable.Range(0, 16).Select(i => string.Create(CultureInfo.InvariantCulture, $"What is the capital of France? Ask {i}")).ToArray();

            // 1. Under load: every request streams, then the scheduler dies without a word to the workers.
            await using (var first = await SchedulerProcess.StartAsync(port, addresses, tokenFile, timeout.Token))
            {
                var streams = new List<(HttpResponseMessage Response, StreamReader Reader)>();
                for (var i = 0; i < prompts.Length; i++)
                {
                    var response = await first.Http.SendAsync(
                        new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = Body(prompts[i], seed: i, maxTokens: 400, stream: true) },
                        HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                    response.EnsureSuccessStatusCode();
                    streams.Add((response, new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token))));
                }

                foreach (var (_, reader) in streams)
                {
                    await FirstTokenAsync(reader, timeout.Token);
                }

                first.Kill();
                foreach (var (response, reader) in streams)
                {
                    reader.Dispose();
                    response.Dispose();
                }
            }

            Assert.True(Held() > 0, "the killed scheduler left no sequence on the workers: the test proves nothing");

            // 2. The next process, under load: the same prompts and seeds, and new ones, all at once.
            await using var second = await SchedulerProcess.StartAsync(port, addresses, tokenFile, timeout.Token);
            var requests = prompts.Select((p, i) => (Prompt: p, Seed: i)).Concat(prompts.Select((p, i) => (Prompt: p + " again", Seed: 100 + i))).ToList();
            var loaded = await Task.WhenAll(requests.Select(r => AnswerAsync(second.Http, r.Prompt, r.Seed, timeout.Token)));

            // 3. Each again, alone.
            for (var i = 0; i < requests.Count; i++)
            {
                var quiet = await AnswerAsync(second.Http, requests[i].Prompt, requests[i].Seed, timeout.Token);
                Assert.True(quiet == loaded[i], $"request {i} ('{requests[i].Prompt}', seed {requests[i].Seed}) under load after the restart:\n{loaded[i]}\nquiet rerun:\n{quiet}");
            }

            Assert.Equal(0, Held()); // the old process's sequences were dropped when the new one first called
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.StopAsync(CancellationToken.None);
                await worker.DisposeAsync();
            }
        }
    }

    private static JsonContent Body(string prompt, int seed, int maxTokens, bool stream)
        => JsonContent.Create(new { model = "laps-sim", prompt, seed, max_tokens = maxTokens, stream });

    private static async Task<string> AnswerAsync(HttpClient http, string prompt, int seed, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync("v1/completions", Body(prompt, seed, maxTokens: 120, stream: false), cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        var choice = json.RootElement.GetProperty("choices")[0];
        return choice.GetProperty("finish_reason").GetString() + ":" + choice.GetProperty("text").GetString();
    }

    private static async Task FirstTokenAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("data: {", StringComparison.Ordinal) && line.Contains("\"text\":\"", StringComparison.Ordinal)
                && !line.Contains("\"text\":\"\"", StringComparison.Ordinal))
            {
                return;
            }
        }

        throw new InvalidOperationException("the stream ended before its first token");
    }

    /// <summary>`laps scheduler` as a child process (the test's own build of laps.dll), ready once /readyz answers 200.</summary>
    private sealed class SchedulerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private SchedulerProcess(Process process, Uri url)
        {
            _process = process;
            Http = new HttpClient { BaseAddress = url, Timeout = Bound };
        }

        public HttpClient Http { get; }

        public static async Task<SchedulerProcess> StartAsync(int port, string workers, string tokenFile, CancellationToken cancellationToken)
        {
            var laps = typeof(LapsCommand).Assembly.Location;
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                "exec", laps, "scheduler", "--port", port.ToString(CultureInfo.InvariantCulture), "--workers", workers,
                "--worker-token-file", tokenFile, "--batch", "4", "--max-queued", "256",
            })
            {
                info.ArgumentList.Add(argument);
            }

            var process = Process.Start(info) ?? throw new InvalidOperationException("could not start laps scheduler");
            var scheduler = new SchedulerProcess(process, new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/")));
            process.OutputDataReceived += (_, e) => scheduler.Append(e.Data);
            process.ErrorDataReceived += (_, e) => scheduler.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            while (true)
            {
                Assert.False(process.HasExited, "laps scheduler exited: " + scheduler.Output);
                try
                {
                    using var ready = await scheduler.Http.GetAsync("readyz", cancellationToken);
                    if (ready.StatusCode == HttpStatusCode.OK)
                    {
                        return scheduler;
                    }
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }

                await Task.Delay(50, cancellationToken);
            }
        }

        private string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        /// <summary>SIGKILL: no drain, no Release, nothing said to the workers.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
