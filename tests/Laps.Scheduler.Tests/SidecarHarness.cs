using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using Laps.Scheduler.Api;
using Laps.Scheduler.Serving;
using Laps.Scheduler.Serving.Sessions;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Laps.Scheduler.Tests;

/// <summary>
/// The sidecar on a <see cref="TestServer"/>, wired to <see cref="FakeWorker"/>s: directly as in-memory worker
/// sessions (the default), or, with <c>grpc: true</c>, each behind the real worker protocol on its own in-memory gRPC
/// <see cref="TestServer"/>. No sockets, no sleeps.
/// </summary>
public sealed class SidecarHarness : IAsyncDisposable
{
    private readonly List<WebApplication> _workerApps;
    private readonly WebApplication _app;

    private SidecarHarness(WebApplication app, List<WebApplication> workerApps, IReadOnlyList<FakeWorker> workers, EventLog<string[]> membership)
    {
        _app = app;
        Membership = membership;
        _workerApps = workerApps;
        Workers = workers;
        Client = app.GetTestClient();
        Pool.Admitted += request => Admitted.Add(request.Id);
    }

    /// <summary>The routable workers after each change discovery made, in order.</summary>
    public EventLog<string[]> Membership { get; }

    /// <summary>Ids of the requests routed to a loop, in order.</summary>
    public EventLog<long> Admitted { get; } = new();

    public HttpClient Client { get; }
    public IReadOnlyList<FakeWorker> Workers { get; }
    public FakeWorker Worker => Workers[0];
    public IServiceProvider Services => _app.Services;
    public WorkerPool Pool => Services.GetRequiredService<WorkerPool>();

    public static async Task<SidecarHarness> StartAsync(
        IDictionary<string, string?>? settings = null,
        int workers = 1,
        Action<IServiceCollection>? services = null,
        bool waitReady = true,
        bool staticWorkers = true,
        Action<FakeWorker>? configureWorkers = null,
        bool grpc = false)
    {
        var fakes = new List<FakeWorker>();
        var workerApps = new List<WebApplication>();
        var clients = new Dictionary<string, SpeculativeWorker.SpeculativeWorkerClient>(StringComparer.Ordinal);
        var config = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Scheduler:Policy"] = "fcfs",
            ["Scheduler:Model"] = "test-model",
            ["Scheduler:MaxPromptTokens"] = "64",
            ["Scheduler:MaxCompletionTokens"] = "500",
            ["Scheduler:DefaultMaxTokens"] = "6",
            ["Scheduler:RetryBackoff"] = "00:00:00.001",
        };
        for (var i = 0; i < workers; i++)
        {
            var address = string.Create(CultureInfo.InvariantCulture, $"worker-{i}:5000");
            var fake = new FakeWorker(address);
            configureWorkers?.Invoke(fake);
            fakes.Add(fake);
            if (grpc)
            {
                var workerBuilder = WebApplication.CreateBuilder();
                workerBuilder.WebHost.UseTestServer();
                workerBuilder.Logging.ClearProviders();
                workerBuilder.Services.AddGrpc();
                workerBuilder.Services.AddSingleton(fake);
                var workerApp = workerBuilder.Build();
                workerApp.MapGrpcService<FakeWorkerService>();
                await workerApp.StartAsync();
                var channel = GrpcChannel.ForAddress("http://" + address, new GrpcChannelOptions { HttpHandler = workerApp.GetTestServer().CreateHandler() });
                clients[address] = new SpeculativeWorker.SpeculativeWorkerClient(channel);
                workerApps.Add(workerApp);
            }

            if (staticWorkers)
            {
                config[string.Create(CultureInfo.InvariantCulture, $"Scheduler:Workers:{i}")] = address;
            }
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(config);
        if (grpc)
        {
            builder.Services.AddSingleton<IWorkerClientFactory>(new MapClientFactory(clients));
        }
        else
        {
            builder.Services.AddSingleton<IWorkerSessionFactory>(new MapSessionFactory(fakes.ToDictionary(f => f.Name, StringComparer.Ordinal)));
        }

        services?.Invoke(builder.Services);
        builder.AddLapsScheduler();
        var app = builder.Build();
        app.MapLapsScheduler();
        var membership = new EventLog<string[]>();
        app.Services.GetRequiredService<WorkerPool>().WorkersChanged += workers => membership.Add([.. workers]);
        await app.StartAsync();
        var harness = new SidecarHarness(app, workerApps, fakes, membership);
        if (waitReady)
        {
            // Every worker described: routing and readiness start from a known state.
            await Task.WhenAll(harness.Pool.Loops.Select(l => l.Described)).WaitAsync(EventLog<int>.Timeout);
        }

        return harness;
    }

    public Task<HttpResponseMessage> PostAsync(string path, object body, CancellationToken cancellationToken = default)
        => Client.PostAsJsonAsync(path, body, cancellationToken).WaitAsync(EventLog<int>.Timeout, cancellationToken);

    public Task<HttpResponseMessage> PostRawAsync(string path, string json)
        => Client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json")).WaitAsync(EventLog<int>.Timeout);

    /// <summary>Sends a streamed request and returns once the headers arrived; the body is read by the caller.</summary>
    public Task<HttpResponseMessage> SendStreamingAsync(string path, object body, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).WaitAsync(EventLog<int>.Timeout, cancellationToken);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync().WaitAsync(EventLog<int>.Timeout);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Stops the sidecar's host as a SIGTERM would (drain, then stop the loops).</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in Workers)
        {
            worker.Manual = false;
            worker.Allow(1000);
        }

        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var workerApp in _workerApps)
        {
            await workerApp.StopAsync();
            await workerApp.DisposeAsync();
        }

        foreach (var worker in Workers)
        {
            worker.Dispose();
        }
    }

    private sealed class MapSessionFactory(Dictionary<string, FakeWorker> workers) : IWorkerSessionFactory
    {
        public IWorkerSession Create(string address) => workers[address];
    }

    private sealed class MapClientFactory(Dictionary<string, SpeculativeWorker.SpeculativeWorkerClient> clients) : IWorkerClientFactory
    {
        public SpeculativeWorker.SpeculativeWorkerClient Create(string address) => clients[address];
    }
}
