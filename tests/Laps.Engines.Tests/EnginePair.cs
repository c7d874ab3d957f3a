using System.Net.Http.Json;
using Grpc.Net.Client;
using Laps.Emulation;
using Laps.Worker;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Laps.Engines.Tests;

/// <summary>An emulated engine and an adapter worker in front of it, on real loopback sockets, and a gRPC client.</summary>
public sealed class EnginePair : IAsyncDisposable
{
    private GrpcChannel? _channel;

    private EnginePair(EngineKind engine, EmulatorOptions emulator, int emulatorPort)
    {
        Kind = engine;
        EmulatorOptions = emulator;
        EmulatorPort = emulatorPort;
    }

    public EngineKind Kind { get; }

    public EmulatorOptions EmulatorOptions { get; }

    public int EmulatorPort { get; }

    public WebApplication? Emulator { get; private set; }

    public WebApplication Worker { get; private set; } = null!;

    public SpeculativeWorker.SpeculativeWorkerClient Client { get; private set; } = null!;

    public EngineWorker Adapter => Worker.Services.GetRequiredService<EngineWorker>();

    public EmulatedEngine Engine => Emulator!.Engine();

    public EmulatorFaults Faults => Emulator!.Faults();

    public Uri EmulatorUrl => new($"http://127.0.0.1:{EmulatorPort}/");

    public static EmulatorOptions DefaultEmulator(EngineKind engine) => new()
    {
        Engine = engine,
        Model = new SimWorkerOptions { WorkerId = "emulated", K = 2, TimeScale = 2, Workload = "reasoning" },
        MaxRunning = 8,
        BlockSize = engine == EngineKind.Vllm ? 4 : 1,
    };

    /// <summary>
    /// Starts the emulator (unless <paramref name="startEmulator"/> is false: the engine is still loading) and the worker,
    /// which requires <paramref name="token"/> when given.
    /// </summary>
    public static async Task<EnginePair> StartAsync(EngineKind engine, Func<EmulatorOptions, EmulatorOptions>? tune = null, bool startEmulator = true,
        Func<EngineWorkerOptions, EngineWorkerOptions>? worker = null, WorkerToken? token = null)
    {
        var options = (tune ?? (o => o))(DefaultEmulator(engine));
        var pair = new EnginePair(engine, options, EmulatorHost.FreePort());
        if (startEmulator)
        {
            await pair.StartEmulatorAsync();
        }

        var workerOptions = new EngineWorkerOptions
        {
            Engine = engine,
            EngineUrl = pair.EmulatorUrl,
            WorkerId = "adapter",
            K = options.Model.K,
            MaxBatch = options.MaxRunning,
            MaxStepsPerCall = 8,
            StepDeadline = TimeSpan.FromSeconds(20),
        };
        pair.Worker = EngineWorkerHost.Build(
            (worker ?? (w => w))(workerOptions), "127.0.0.1", 0, b => b.Logging.ClearProviders(), token is null ? null : _ => token);
        await pair.Worker.StartAsync();
        pair._channel = GrpcChannel.ForAddress(pair.Worker.BoundAddresses()[0]);
        pair.Client = new SpeculativeWorker.SpeculativeWorkerClient(pair._channel);
        return pair;
    }

    public async Task StartEmulatorAsync()
    {
        Emulator = EmulatorHost.Build(EmulatorOptions, "127.0.0.1", EmulatorPort, b => b.Logging.ClearProviders());
        await Emulator.StartAsync();
    }

    /// <summary>The engine dies: its process exits and every connection drops.</summary>
    public async Task KillEmulatorAsync()
    {
        var emulator = Emulator!;
        Emulator = null;
        await emulator.StopAsync(new CancellationTokenSource(TimeSpan.FromMilliseconds(200)).Token);
        await emulator.DisposeAsync();
    }

    /// <summary>What the emulated model outputs for this prompt uninterrupted (a non-streaming request straight to the engine).</summary>
    public async Task<int[]> ReferenceAsync(int[] prompt, int maxTokens)
    {
        using var http = new HttpClient { BaseAddress = EmulatorUrl, Timeout = TimeSpan.FromSeconds(20) };
        if (Kind == EngineKind.Vllm)
        {
            var response = await http.PostAsJsonAsync("v1/completions", new { prompt, max_tokens = maxTokens, return_token_ids = true });
            var json = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            return [.. json.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32())];
        }
        else
        {
            var response = await http.PostAsJsonAsync("generate", new { input_ids = prompt, sampling_params = new { max_new_tokens = maxTokens } });
            var json = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            return [.. json.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())];
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        await Worker.StopAsync();
        await Worker.DisposeAsync();
        if (Emulator is not null)
        {
            await KillEmulatorAsync();
        }
    }
}
