using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Laps.Cli;
using Laps.Cli.Commands;
using Laps.Kubernetes.Fake;
using Laps.Operator.Hosting;
using Laps.Operator.Model;
using k8s.Models;
using Microsoft.AspNetCore.Builder;

namespace Laps.Monitoring.Tests;

/// <summary>
/// Everything the live queries run against, started once per test class within one bound: four local pools
/// (`laps up`'s in-process sidecar and workers over loopback), driven so that every sidecar and engine metric has
/// samples, and the real Prometheus scraping them every second with the labels the dashboard's variables select on.
/// <list type="bullet">
/// <item>pool <c>chat</c>: two bad requests (unknown model, malformed JSON), then `laps bench` sends a burst larger
/// than the queue: preemptions, acceptance, estimates, 429 queue_full rejections.</item>
/// <item>pool <c>faults</c>: worker 1 is stopped, so a request routed to it migrates to worker 0; then worker 0 is
/// stopped too, so the next request fails with worker_error.</item>
/// <item>pools <c>vllm</c> and <c>sglang</c> (`laps up --engine vllm|sglang`: the adapter in front of an emulated
/// engine): `laps bench` through the scheduler; each engine is scraped through its adapter's engine metrics proxy, as
/// the pool's ServiceMonitor P-engines does (job laps-engine, labels namespace, pool, pod). Requests sent to the vLLM
/// engine directly, beyond its batch cap, fill its waiting queue, as an engine capped below the pool's batch would.</item>
/// <item>`laps operator` (leader-elected) against the fake Kubernetes API server, reconciling an InferencePool.</item>
/// </list>
/// </summary>
public sealed class ScrapedPools : IAsyncLifetime, IDisposable
{
    /// <summary>The one bound on starting, driving and querying everything.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    public const string Namespace = "laps-test";
    public const string SchedulerJob = "laps-scheduler";

    public const string EngineJob = "laps-engine";

    public const string OperatorJob = "laps-operator";
    public const string OperatorNamespace = "laps-system";

    /// <summary>Whether the operator is scraped too (job laps-operator), so its panels and alerts are checked.</summary>
    public const bool OperatorScraped = true;

    private readonly CancellationTokenSource _deadline = new(Bound);
    private LocalPool? _chat;
    private LocalPool? _faults;
    private LocalPool? _vllm;
    private LocalPool? _sglang;
    private FakeKubernetesServer? _kubernetes;
    private WebApplication? _operator;

    public CancellationToken Deadline => _deadline.Token;

    internal PrometheusServer Prometheus { get; private set; } = null!;

    public JsonElement BenchReport { get; private set; }

    public IReadOnlyList<string> WorkerAddresses =>
        [.. _chat!.WorkerAddresses, .. _faults!.WorkerAddresses, .. _vllm!.WorkerAddresses, .. _sglang!.WorkerAddresses];

    /// <summary>The pool whose metrics an expression reads: the engine pool named after the engine it queries, else chat.</summary>
    public static string PoolOf(string expr)
        => expr.Contains("vllm:", StringComparison.Ordinal) ? "vllm" : expr.Contains("sglang:", StringComparison.Ordinal) ? "sglang" : "chat";

    public IReadOnlyList<string> WorkersOf(string pool) => pool switch
    {
        "vllm" => _vllm!.WorkerAddresses,
        "sglang" => _sglang!.WorkerAddresses,
        _ => _chat!.WorkerAddresses,
    };

    public static bool NeedsOperator(string expr)
        => expr.Contains("laps_operator_", StringComparison.Ordinal) || expr.Contains("job=\"laps-operator\"", StringComparison.Ordinal);

    public async Task InitializeAsync()
    {
        var binary = ExternalTool.Find("prometheus");
        var chat = LocalPool.StartAsync(
            UpCommand.Parse("--workers", "2", "--port", "0", "--batch", "2", "--time-scale", "5", "--max-queued", "8"), Deadline);
        var faults = LocalPool.StartAsync(
            UpCommand.Parse("--workers", "2", "--port", "0", "--batch", "4", "--time-scale", "1", "--max-queued", "64"), Deadline);
        var vllm = LocalPool.StartAsync(EnginePool("vllm"), Deadline);
        var sglang = LocalPool.StartAsync(EnginePool("sglang"), Deadline);
        _chat = await chat;
        _faults = await faults;
        _vllm = await vllm;
        _sglang = await sglang;
        var operatorUrl = await StartOperatorAsync();

        List<ScrapeTarget> targets =
        [
            Scheduler(_chat, "chat"),
            Scheduler(_faults, "faults"),
            Scheduler(_vllm, "vllm"),
            Scheduler(_sglang, "sglang"),
            .. Engines(_vllm, "vllm"),
            .. Engines(_sglang, "sglang"),
            new ScrapeTarget(OperatorJob, operatorUrl, new Dictionary<string, string> { ["namespace"] = OperatorNamespace }),
        ];
        Prometheus = await PrometheusServer.StartAsync(binary, targets, [Repository.Alerts], Deadline);

        // Scraped once before any load, so that rates see the counters rise.
        await Prometheus.WaitForTargetsUpAsync(targets.Count, Deadline);
        _kubernetes!.Seed(new InferencePool
        {
            Metadata = new V1ObjectMeta { Name = "chat", NamespaceProperty = Namespace },
            Spec = new InferencePoolSpec(),
        });
        await Task.WhenAll(
            DriveChatAsync(_chat), DriveFaultsAsync(_faults), DriveEnginePoolAsync(_vllm), DriveEnginePoolAsync(_sglang),
            FillEngineQueueAsync(_vllm.EngineUrls[0]));
    }

    public async Task DisposeAsync()
    {
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync(); // null when the fixture failed before starting it
        }

        if (_operator is not null)
        {
            await _operator.StopAsync(CancellationToken.None);
            await _operator.DisposeAsync();
        }

        if (_kubernetes is not null)
        {
            await _kubernetes.DisposeAsync();
        }

        foreach (var pool in new[] { _chat, _faults, _vllm, _sglang })
        {
            if (pool is not null)
            {
                await pool.DisposeAsync();
            }
        }
    }

    public void Dispose() => _deadline.Dispose();

    /// <summary>`laps operator`'s host (leader election on, all namespaces) against the fake API server.</summary>
    private async Task<Uri> StartOperatorAsync()
    {
        _kubernetes = await FakeKubernetesServer.StartAsync();
        _operator = OperatorHost.Build(
            new OperatorOptions { Url = "http://127.0.0.1:0", LeaseNamespace = OperatorNamespace, Identity = "laps-operator-0", DefaultImage = "laps:test" },
            _kubernetes.ClientConfiguration());
        await _operator.StartAsync(Deadline);
        return new Uri(_operator.Urls.First());
    }

    /// <summary>`laps up --engine`: one adapter worker in front of an emulated engine whose batch cap is the pool's batch.</summary>
    private static LocalPoolSettings EnginePool(string engine)
        => UpCommand.Parse("--engine", engine, "--workers", "1", "--port", "0", "--batch", "2", "--time-scale", "5", "--max-queued", "64");

    private static ScrapeTarget Scheduler(LocalPool pool, string name)
        => new(SchedulerJob, pool.Url, new Dictionary<string, string> { ["namespace"] = Namespace, ["pool"] = name });

    /// <summary>
    /// Each engine's /metrics through its adapter's proxy, with the labels the pool's ServiceMonitor P-engines gives it
    /// (pod: one of P-workers' pods).
    /// </summary>
    private static IEnumerable<ScrapeTarget> Engines(LocalPool pool, string name) => pool.EngineMetricsUrls.Select((url, i) => new ScrapeTarget(
        EngineJob, url, new Dictionary<string, string> { ["namespace"] = Namespace, ["pool"] = name, ["pod"] = $"{name}-workers-{i}" }));

    /// <summary>Requests through the scheduler, so the adapter, the engine and the sidecar all count them.</summary>
    private async Task DriveEnginePoolAsync(LocalPool pool)
    {
        var (exitCode, stdout, stderr) = await Task.Run(() => RunLaps(
            "bench", "--target", pool.Url.ToString(), "--workload", "gsm8k", "--requests", "16", "--rate", "8",
            "--seed", "11", "--timeout", "60", "--json"), Deadline);
        Assert.True(exitCode == 0, stderr);
        using var report = JsonDocument.Parse(stdout);
        Assert.True(report.RootElement.GetProperty("completed").GetInt32() > 0, stdout);
    }

    /// <summary>
    /// More requests than the engine's batch cap (the pool's batch, 2), straight to the engine: the surplus waits in
    /// the engine's own queue for a few seconds, as it would behind an engine capped below the pool's batch.
    /// </summary>
    private async Task FillEngineQueueAsync(Uri engine)
    {
        using var http = new HttpClient { BaseAddress = engine, Timeout = Bound };
        var requests = Enumerable.Range(0, 6).Select(async i =>
        {
            using var response = await http.PostAsJsonAsync(
                "v1/completions", new { prompt = new[] { 41 + i, 42, 43 }, max_tokens = 400, min_tokens = 400 }, Deadline);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Deadline));
        });
        await Task.WhenAll(requests);
    }

    private async Task DriveChatAsync(LocalPool pool)
    {
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };
        using (var unknownModel = await http.PostAsJsonAsync("v1/completions", new { model = "no-such-model", prompt = "hi", max_tokens = 4 }, Deadline))
        {
            Assert.Equal(404, (int)unknownModel.StatusCode);
        }

        using (var malformed = await http.PostAsync("v1/completions", new StringContent("{\"model\":", Encoding.UTF8, "application/json"), Deadline))
        {
            Assert.Equal(400, (int)malformed.StatusCode);
        }

        // 64 requests over about 3 s (several scrapes, so rates see counters rise) into 2 workers x batch 2 with at
        // most 8 waiting: newcomers preempt, and some are answered 429.
        var (exitCode, stdout, stderr) = await Task.Run(() => RunLaps(
            "bench", "--target", pool.Url.ToString(), "--workload", "gsm8k", "--requests", "64", "--rate", "20",
            "--seed", "7", "--timeout", "60", "--json"), Deadline);
        // The 429s are deliberate, and `laps bench` exits 1 when any request failed: accept that, and only that.
        Assert.True(exitCode is 0 or 1, stderr);
        Assert.True(exitCode == 0 || stderr.Contains("http 429", StringComparison.Ordinal), stderr);
        using var report = JsonDocument.Parse(stdout);
        BenchReport = report.RootElement.Clone();
    }

    private async Task DriveFaultsAsync(LocalPool pool)
    {
        using var http = new HttpClient { BaseAddress = pool.Url, Timeout = Bound };

        // A long request, real time, so that it still runs when its worker is stopped below.
        using var longRequest = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = JsonContent.Create(new { model = "laps-sim", prompt = new[] { 11, 12, 13 }, max_tokens = 4000, stream = true, seed = 3 }),
        };
        int running;
        using (var longResponse = await http.SendAsync(longRequest, HttpCompletionOption.ResponseHeadersRead, Deadline))
        {
            longResponse.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await longResponse.Content.ReadAsStreamAsync(Deadline));
            await FirstTokenAsync(reader);

            // Its worker stops: the step in flight fails and the request resumes (recomputed) on the other one.
            running = await RunningWorkerAsync(http, pool);
            await pool.StopWorkerAsync(running);

            // Tokens already on their way may still arrive from before the stop: read on until the resume happened.
            do
            {
                await FirstTokenAsync(reader);
            }
            while ((await http.GetStringAsync(new Uri("metrics", UriKind.Relative), Deadline)).Contains("\nlaps_migrated_requests_total 0\n", StringComparison.Ordinal));
        }

        // The long request's client went away; with the other worker gone too, the next request has nowhere to go.
        await pool.StopWorkerAsync(1 - running);
        using var failed = await http.PostAsJsonAsync("v1/completions", new { model = "laps-sim", prompt = new[] { 31, 32 }, max_tokens = 4 }, Deadline);
        Assert.False(failed.IsSuccessStatusCode, await failed.Content.ReadAsStringAsync(Deadline));
    }

    /// <summary>The index of the worker whose batch holds a request now, read from the pool's own metrics.</summary>
    private async Task<int> RunningWorkerAsync(HttpClient http, LocalPool pool)
    {
        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative), Deadline);
        for (var i = 0; i < pool.WorkerAddresses.Count; i++)
        {
            if (metrics.Contains($"laps_requests_running{{worker=\"{pool.WorkerAddresses[i]}\"}} 1", StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new InvalidOperationException($"no worker runs the request: {metrics}");
    }

    private async Task FirstTokenAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync(Deadline) is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
            {
                continue;
            }

            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            var choices = chunk.RootElement.GetProperty("choices");
            if (choices.GetArrayLength() > 0 && choices[0].GetProperty("text").GetString() is { Length: > 0 })
            {
                return;
            }
        }

        throw new InvalidOperationException("the stream ended before its first token");
    }

    private static (int ExitCode, string Stdout, string Stderr) RunLaps(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = new LapsCommand().Invoke(args, new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return (exitCode, stdout.ToString(), stderr.ToString());
    }
}
