using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Laps.Scheduler;
using Laps.Scheduler.Serving;
using Laps.Scheduler.Serving.Sessions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Laps.Benchmarks;

/// <summary>
/// The sidecar's own cost per step, in its real code path: the scheduler host as <c>laps scheduler</c> builds it (one
/// worker loop, the policy, the online predictor, metrics, every request's event stream read by a client task) in
/// front of an <see cref="InstantWorker"/>. The queue holds <c>queued</c> requests plus a batch at all times: a request
/// that finishes is replaced at once. Reported per step, as a distribution (p50, p99, max), not only a mean.
/// </summary>
internal static class SidecarOverhead
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static async Task<OverheadReport> MeasureAsync(string policy, int batch, int queued, int warmupSteps, int steps)
    {
        var worker = new InstantWorker(warmupSteps, steps);
        await using (var rig = await SidecarRig.StartAsync(worker, policy, batch, queued).ConfigureAwait(false))
        {
            await worker.Recorded.WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        }

        var gaps = worker.GapSeconds;
        var sorted = gaps.Order().ToArray();
        return new OverheadReport
        {
            Policy = policy,
            Batch = batch,
            Queued = queued,
            Steps = gaps.Length,
            MeanBatch = (double)worker.RecordedSequences / gaps.Length,
            MeanSeconds = gaps.Average(),
            P50Seconds = Quantile(sorted, 0.50),
            P99Seconds = Quantile(sorted, 0.99),
            P999Seconds = Quantile(sorted, 0.999),
            MaxSeconds = sorted[^1],
        };
    }

    /// <summary>The <paramref name="q"/> quantile of ascending values (nearest rank).</summary>
    internal static double Quantile(double[] sorted, double q)
        => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static async Task<int> RunAsync(string[] args)
    {
        // --sidecar-overhead [policies] [batch] [queued] [steps]
        var policies = args.Length > 1 ? args[1].Split(',') : ["laps", "fcfs", "srpt", "mlfq"];
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 32;
        var queued = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 10_000;
        var steps = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 20_000;
        var reports = new List<OverheadReport>();
        foreach (var policy in policies)
        {
            reports.Add(await MeasureAsync(policy, batch, queued, warmupSteps: Math.Min(2_000, steps), steps).ConfigureAwait(false));
        }

        Console.WriteLine(JsonSerializer.Serialize(reports, JsonOptions));
        return 0;
    }
}

/// <summary>
/// The scheduler host as <c>laps scheduler</c> builds it, one loop in front of an <see cref="InstantWorker"/>, with
/// <c>queued</c> + <c>batch</c> clients each keeping one request in flight (a finished one is replaced at once).
/// </summary>
internal sealed class SidecarRig : IAsyncDisposable
{
    private const int PromptTokens = 256;
    private readonly IHost _host;
    private readonly CancellationTokenSource _stop = new();

    private SidecarRig(IHost host) => _host = host;

    public static async Task<SidecarRig> StartAsync(InstantWorker worker, string policy, int batch, int queued)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Scheduler:Workers:0"] = "instant:50051",
            ["Scheduler:Policy"] = policy,
            ["Scheduler:Batch"] = batch.ToString(CultureInfo.InvariantCulture),
            ["Scheduler:MaxQueued"] = (queued + batch + 1).ToString(CultureInfo.InvariantCulture),
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IWorkerClientFactory>(worker);
        builder.AddLapsScheduler();
        var rig = new SidecarRig(builder.Build());
        var pool = rig._host.Services.GetRequiredService<WorkerPool>();

        // The whole queue is in the loop's inbox before it starts: every step sees the full queue.
        var random = new Random(1);
        for (var i = 0; i < queued + batch; i++)
        {
            _ = ClientAsync(pool, random, rig._stop.Token);
        }

        await rig._host.StartAsync().ConfigureAwait(false);
        return rig;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _host.StopAsync().ConfigureAwait(false);
        _host.Dispose();
        _stop.Dispose();
    }

    /// <summary>One client: sends a request, reads its stream to the end, and sends the next (keeps the queue full).</summary>
    private static async Task ClientAsync(WorkerPool pool, Random random, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            int[] prompt;
            lock (random)
            {
                prompt = [.. Enumerable.Range(0, PromptTokens).Select(_ => random.Next(128_000))];
            }

            var request = pool.Create(prompt, 4096, seed: null, sampling: null, aborted: CancellationToken.None);
            if (pool.TryAdmit(request) != AdmissionResult.Admitted)
            {
                return;
            }

            try
            {
                await foreach (var _ in request.Events.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                {
                }
            }
            catch (RequestFailedException)
            {
                return; // the host stopped
            }
        }
    }

}

internal sealed record OverheadReport
{
    [JsonPropertyName("policy")] public required string Policy { get; init; }
    [JsonPropertyName("batch")] public required int Batch { get; init; }
    [JsonPropertyName("queued")] public required int Queued { get; init; }
    [JsonPropertyName("steps")] public required int Steps { get; init; }
    [JsonPropertyName("mean_batch")] public required double MeanBatch { get; init; }
    [JsonPropertyName("mean_s")] public required double MeanSeconds { get; init; }
    [JsonPropertyName("p50_s")] public required double P50Seconds { get; init; }
    [JsonPropertyName("p99_s")] public required double P99Seconds { get; init; }
    [JsonPropertyName("p999_s")] public required double P999Seconds { get; init; }
    [JsonPropertyName("max_s")] public required double MaxSeconds { get; init; }
}
