using System.Net;
using System.Text.Json.Nodes;
using Laps.Emulation.Api;
using Laps.Worker;
using Laps.Worker.Engines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Laps.Emulation;

/// <summary>
/// Composition root of an emulated engine: the engine loop, its faults, and the engine's HTTP API on Kestrel
/// (HTTP/1.1, as the engines serve). <c>POST /emulator/faults</c> sets faults by hand:
/// <c>{"fail_next": n, "status": 500, "reset_after_chunks": n, "malformed_next": true, "error_next": true,
/// "abort_delay_ms": n, "loading": false}</c>.
/// </summary>
public static class EmulatorHost
{
    public static WebApplication Build(EmulatorOptions options, string host, int port, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        options.Validate();
        var builder = WorkerHost.SlimBuilder(host, port, HttpProtocols.Http1, TimeSpan.FromSeconds(2));
        configure?.Invoke(builder);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<EmulatorFaults>();
        builder.Services.AddSingleton(sp => new EmulatedEngine(options, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<EngineLoop>();
        var app = builder.Build();
        var engine = app.Services.GetRequiredService<EmulatedEngine>();
        var faults = app.Services.GetRequiredService<EmulatorFaults>();
        if (options.Engine == EngineKind.Vllm)
        {
            VllmApi.Map(app, engine, faults);
        }
        else
        {
            SglangApi.Map(app, engine, faults, app.Services.GetRequiredService<TimeProvider>());
        }

        app.MapPost("/emulator/faults", async context =>
        {
            var body = await ApiSupport.ReadBodyAsync(context).ConfigureAwait(false);
            if (body.Get("fail_next") is { } failNext)
            {
                faults.FailNext(failNext.GetInt32(), body.IntOr("status", 500));
            }

            if (body.Get("reset_after_chunks") is { } reset)
            {
                faults.ResetNextStreamAfter(reset.GetInt32());
            }

            if (body.BoolOr("malformed_next", false))
            {
                faults.MalformedNextChunk();
            }

            if (body.BoolOr("error_next", false))
            {
                faults.ErrorEventNext();
            }

            if (body.Get("abort_delay_ms") is { } delay)
            {
                faults.AbortAnswerDelay = TimeSpan.FromMilliseconds(delay.GetInt32());
            }

            if (body.Get("loading") is { } loading)
            {
                engine.Loading = loading.GetBoolean();
            }

            await ApiSupport.WriteJsonAsync(context, 200, new JsonObject { ["ok"] = true }).ConfigureAwait(false);
        });
        return app;
    }

    /// <summary>The engine of a built emulator.</summary>
    public static EmulatedEngine Engine(this WebApplication app) => app.Services.GetRequiredService<EmulatedEngine>();

    /// <summary>The faults of a built emulator.</summary>
    public static EmulatorFaults Faults(this WebApplication app) => app.Services.GetRequiredService<EmulatorFaults>();

    /// <summary>A free loopback TCP port (to start an emulator on later, as a slow-starting engine opens its port late).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class EngineLoop(EmulatedEngine engine) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            engine.Start();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => engine.DisposeAsync().AsTask();
    }
}
