using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Laps.Worker.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Laps.Worker.Identity;

/// <summary>
/// Who may call a worker: with a <see cref="WorkerToken"/>, only callers whose gRPC metadata carries
/// <c>authorization: Bearer &lt;token&gt;</c> (every call of the worker protocol, refused with UNAUTHENTICATED otherwise);
/// without one, anyone who reaches the port, and the worker says so once at start. Only the worker protocol's service is
/// guarded: HTTP endpoints beside it (health, metrics) stay open.
/// </summary>
public static partial class WorkerAuthentication
{
    /// <summary>
    /// Guards the gRPC service <typeparamref name="TService"/> with the token <paramref name="token"/> makes (null:
    /// unguarded, with a warning at start).
    /// </summary>
    public static IServiceCollection AddWorkerAuthentication<TService>(this IServiceCollection services, Func<IServiceProvider, WorkerToken>? token)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(services);
        if (token is null)
        {
            services.AddHostedService<UnauthenticatedWarning>();
            return services;
        }

        services.AddSingleton<WorkerToken>(token);
        services.AddSingleton<TokenInterceptor>();
        services.AddGrpc().AddServiceOptions<TService>(o => o.Interceptors.Add<TokenInterceptor>());
        return services;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "this worker accepts unauthenticated calls: anyone who reaches its port can step, read and release sequences; start it with --token-file (the pool's worker token) outside a trusted machine")]
    private static partial void LogUnauthenticated(ILogger logger);

    /// <summary>Refuses a call without the token before it reaches the service.</summary>
    internal sealed class TokenInterceptor(WorkerToken token) : Interceptor
    {
        public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
            TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            Check(context);
            return continuation(request, context);
        }

        public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
            IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            Check(context);
            return continuation(requestStream, context);
        }

        public override Task ServerStreamingServerHandler<TRequest, TResponse>(
            TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            Check(context);
            return continuation(request, responseStream, context);
        }

        public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
            IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
            DuplexStreamingServerMethod<TRequest, TResponse> continuation)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            Check(context);
            return continuation(requestStream, responseStream, context);
        }

        private void Check(ServerCallContext context)
        {
            ArgumentNullException.ThrowIfNull(context);
            var authorization = context.RequestHeaders.GetValue(WorkerToken.MetadataKey);
            if (authorization is null)
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated,
                    $"this worker requires the pool's worker token: send the gRPC metadata '{WorkerToken.MetadataKey}: Bearer <token>'"));
            }

            if (!token.Accepts(authorization))
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated,
                    $"the '{WorkerToken.MetadataKey}' metadata does not carry this pool's worker token (expected 'Bearer <token>')"));
            }
        }
    }

    private sealed class UnauthenticatedWarning(ILogger<UnauthenticatedWarning> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            LogUnauthenticated(logger);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
