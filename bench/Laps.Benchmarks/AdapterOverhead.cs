using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Net.Client;
using Laps.Emulation;
using Laps.Worker;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Benchmarks;

/// <summary>
/// The engine adapter's own cost per Step, in its real code path: <c>laps emulate</c> and the adapter
/// (<c>laps worker --engine</c>) on loopback, a gRPC client stepping a full batch one engine step per call (a finished
/// sequence is replaced by a new one at once). The adapter's <see cref="EngineWorker.StepOverheadName"/> histogram is
/// read per Step: its time before submitting and after the engine chunk that completed the Step, without the wait for
/// the engine. The Step's round trip as the client sees it is reported beside it.
/// </summary>
internal static class AdapterOverhead
{
    private const int PromptTokens = 256;
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static async Task<AdapterOverheadReport> MeasureAsync(EngineKind engine, int batch, int warmupSteps, int steps, double timeScale)
    {
        var emulatorOptions = new EmulatorOptions
        {
            Engine = engine,
            Model = new SimWorkerOptions { WorkerId = "emulated", K = 4, TimeScale = timeScale, Workload = "sharegpt" },
            MaxRunning = batch,
        };
        var port = EmulatorHost.FreePort();
        await using var emulator = EmulatorHost.Build(emulatorOptions, "127.0.0.1", port, b => b.Logging.ClearProviders());
        await emulator.StartAsync().ConfigureAwait(false);
        var adapterOptions = new EngineWorkerOptions
        {
            Engine = engine,
            EngineUrl = new Uri($"http://127.0.0.1:{port}/"),
            WorkerId = "adapter",
            K = emulatorOptions.Model.K,
            MaxBatch = batch,
        };
        await using var adapter = EngineWorkerHost.Build(adapterOptions, "127.0.0.1", 0, b => b.Logging.ClearProviders());
        await adapter.StartAsync().ConfigureAwait(false);
        using var channel = GrpcChannel.ForAddress(adapter.BoundAddresses()[0]);
        var client = new SpeculativeWorker.SpeculativeWorkerClient(channel);

        var overheads = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineWorker.MeterName && instrument.Name == EngineWorker.StepOverheadName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (overheads)
            {
                overheads.Add(value);
            }
        });
        listener.Start();

        var random = new Random(1);
        var next = 0;
        var live = new Dictionary<string, SequenceInput>(StringComparer.Ordinal);
        var roundTrips = new List<double>();
        var sequences = 0L;
        for (var step = 0; step < warmupSteps + steps; step++)
        {
            while (live.Count < batch)
            {
                var id = string.Create(CultureInfo.InvariantCulture, $"seq-{next++:D8}");
                live[id] = new SequenceInput
                {
                    SequenceId = id,
                    PromptTokenIds = { Enumerable.Range(0, PromptTokens).Select(_ => random.Next(1, 128_000)) },
                    MaxTokens = 512,
                };
            }

            var request = new StepRequest { Steps = 1, Batch = { live.Values } };
            var started = Stopwatch.GetTimestamp();
            var response = await client.StepAsync(request).ResponseAsync.ConfigureAwait(false);
            var roundTrip = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (step == warmupSteps)
            {
                lock (overheads)
                {
                    overheads.Clear();
                }
            }

            if (step >= warmupSteps)
            {
                roundTrips.Add(roundTrip);
                sequences += response.Outputs.Count;
            }

            // Held sequences are stepped by id alone; a finished or failed one is replaced.
            foreach (var output in response.Outputs)
            {
                if (output.Finished || output.Error.Length > 0)
                {
                    live.Remove(output.SequenceId);
                }
                else
                {
                    live[output.SequenceId] = new SequenceInput { SequenceId = output.SequenceId };
                }
            }
        }

        listener.Dispose();
        await adapter.StopAsync().ConfigureAwait(false);
        await emulator.StopAsync().ConfigureAwait(false);
        double[] sorted;
        lock (overheads)
        {
            sorted = [.. overheads.Order()];
        }

        double[] trips = [.. roundTrips.Order()];
        return new AdapterOverheadReport
        {
            Engine = engine.ToString().ToLowerInvariant(),
            Batch = batch,
            TimeScale = timeScale,
            Steps = sorted.Length,
            MeanBatch = (double)sequences / trips.Length,
            MeanSeconds = sorted.Average(),
            P50Seconds = SidecarOverhead.Quantile(sorted, 0.50),
            P99Seconds = SidecarOverhead.Quantile(sorted, 0.99),
            P999Seconds = SidecarOverhead.Quantile(sorted, 0.999),
            MaxSeconds = sorted[^1],
            RoundTripMeanSeconds = trips.Average(),
            RoundTripP99Seconds = SidecarOverhead.Quantile(trips, 0.99),
        };
    }

    public static async Task<int> RunAsync(string[] args)
    {
        // --adapter-overhead [engines] [batches] [steps] [time scale]
        var engines = (args.Length > 1 ? args[1] : "vllm,sglang").Split(',').Select(e => Enum.Parse<EngineKind>(e, ignoreCase: true));
        var batches = (args.Length > 2 ? args[2] : "1,8").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture));
        var steps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5_000;
        var timeScale = args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 4;
        var reports = new List<AdapterOverheadReport>();
        foreach (var engine in engines)
        {
            foreach (var batch in batches)
            {
                reports.Add(await MeasureAsync(engine, batch, warmupSteps: Math.Min(500, steps), steps, timeScale).ConfigureAwait(false));
            }
        }

        Console.WriteLine(JsonSerializer.Serialize(reports, JsonOptions));
        return 0;
    }
}

internal sealed class AdapterOverheadReport
{
    [JsonPropertyName("engine")] public required string Engine { get; init; }
    [JsonPropertyName("batch")] public int Batch { get; init; }
    [JsonPropertyName("time_scale")] public double TimeScale { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("mean_batch")] public double MeanBatch { get; init; }
    [JsonPropertyName("overhead_mean_s")] public double MeanSeconds { get; init; }
    [JsonPropertyName("overhead_p50_s")] public double P50Seconds { get; init; }
    [JsonPropertyName("overhead_p99_s")] public double P99Seconds { get; init; }
    [JsonPropertyName("overhead_p999_s")] public double P999Seconds { get; init; }
    [JsonPropertyName("overhead_max_s")] public double MaxSeconds { get; init; }
    [JsonPropertyName("round_trip_mean_s")] public double RoundTripMeanSeconds { get; init; }
    [JsonPropertyName("round_trip_p99_s")] public double RoundTripP99Seconds { get; init; }
}
