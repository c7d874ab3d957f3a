using Laps.Worker.Engines.Sglang;
using Laps.Worker.Engines.Vllm;
using Laps.Worker.Identity;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Laps.Worker.Engines;

/// <summary>Composition root of an engine adapter worker: the engine client, the adapter, gRPC on Kestrel (h2c).</summary>
public static class EngineWorkerHost
{
    /// <summary>The client for an engine kind at a URL (an <paramref name="http"/> client given is not disposed with it).</summary>
    public static EngineClient CreateClient(EngineKind engine, Uri url, HttpClient? http = null) => engine switch
    {
        EngineKind.Vllm => new VllmClient(url, http),
        EngineKind.Sglang => new SglangClient(url, http),
        _ => throw new ArgumentOutOfRangeException(nameof(engine), engine, "unknown engine"),
    };

    /// <summary>
    /// Registers an adapter worker with these options (validated now). A <see cref="TimeProvider"/> or
    /// <see cref="EngineClient"/> already registered wins.
    /// </summary>
    public static IServiceCollection AddEngineWorker(this IServiceCollection services, EngineWorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(_ => CreateClient(options.Engine, options.EngineUrl));
        services.AddSingleton<EngineWorker>();
        services.AddGrpc();
        return services;
    }

    /// <summary>
    /// A web application serving the adapter on host:port over HTTP/2 without TLS (port 0: any free one). With a
    /// <paramref name="token"/> (made with the host's services), every call must carry it.
    /// </summary>
    public static WebApplication Build(
        EngineWorkerOptions options, string host, int port, Action<WebApplicationBuilder>? configure = null, Func<IServiceProvider, WorkerToken>? token = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WorkerHost.GrpcBuilder(host, port);
        configure?.Invoke(builder);
        builder.Services.AddEngineWorker(options);
        builder.Services.AddWorkerAuthentication<EngineWorkerService>(token);
        var app = builder.Build();
        app.MapGrpcService<EngineWorkerService>();
        return app;
    }
}
