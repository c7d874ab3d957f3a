using System.Net;
using Laps.Worker.Identity;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Laps.Worker;

/// <summary>Composition root of a sim worker: services, the gRPC endpoint, and a Kestrel host speaking h2c.</summary>
public static class WorkerHost
{
    /// <summary>
    /// Registers a sim worker with these options: validates them and loads the workload now (so a bad trace fails at
    /// start), then the engine, the service and gRPC. A <see cref="TimeProvider"/> already registered wins over the system one.
    /// </summary>
    public static IServiceCollection AddSimWorker(this IServiceCollection services, SimWorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var acceptance = AcceptanceSource.Load(options.Workload, options.FallbackProfile, options.Proposer);
        services.AddSingleton(options);
        services.AddSingleton(acceptance);
        services.AddSingleton<SimEngine>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SpeculativeWorkerService>();
        services.AddGrpc();
        return services;
    }

    public static IEndpointRouteBuilder MapSpeculativeWorker(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<SpeculativeWorkerService>();
        return endpoints;
    }

    /// <summary>
    /// A web application serving the worker on <paramref name="host"/>:<paramref name="port"/> (an IP address or
    /// "localhost"; port 0 picks a free one) over HTTP/2 without TLS. <paramref name="configure"/> may add services
    /// (a fake TimeProvider, logging) before the worker's. With a <paramref name="token"/> (made with the host's
    /// services, so that a token file's reads log), every call must carry it.
    /// </summary>
    public static WebApplication Build(
        SimWorkerOptions options, string host, int port, Action<WebApplicationBuilder>? configure = null, Func<IServiceProvider, WorkerToken>? token = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = GrpcBuilder(host, port);
        configure?.Invoke(builder);
        builder.Services.AddSimWorker(options);
        builder.Services.AddWorkerAuthentication<SpeculativeWorkerService>(token);
        var app = builder.Build();
        app.MapSpeculativeWorker();
        return app;
    }

    /// <summary>
    /// A builder for a worker's gRPC server: HTTP/2 without TLS on host:port (port 0: any free one), no server header,
    /// 10 s to finish calls on shutdown. The sim worker and the engine adapter both start from it.
    /// </summary>
    public static WebApplicationBuilder GrpcBuilder(string host, int port) => SlimBuilder(host, port, HttpProtocols.Http2, TimeSpan.FromSeconds(10));

    /// <summary>
    /// A slim web builder listening on host:port (port 0: any free one) with these protocols, no server header, and this
    /// long to finish requests on shutdown: the workers' gRPC servers, the engine metrics proxy and the emulated engines.
    /// </summary>
    public static WebApplicationBuilder SlimBuilder(string host, int port, HttpProtocols protocols, TimeSpan shutdown)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        var address = ParseHost(host);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (address is null)
            {
                kestrel.ListenLocalhost(port, l => l.Protocols = protocols);
            }
            else
            {
                kestrel.Listen(address, port, l => l.Protocols = protocols);
            }
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown);
        return builder;
    }

    /// <summary>The address for a --host value: null for "localhost"; throws <see cref="FormatException"/> otherwise.</summary>
    public static IPAddress? ParseHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (string.Equals(host.Trim(), "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return IPAddress.TryParse(host.Trim(), out var address)
            ? address
            : throw new FormatException($"'{host}' is not an IP address or 'localhost'");
    }

    /// <summary>The addresses a started application listens on (with the real port when 0 was asked for).</summary>
    public static IReadOnlyList<Uri> BoundAddresses(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var feature = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        return feature?.Addresses.Select(a => new Uri(a)).ToArray() ?? [];
    }
}
