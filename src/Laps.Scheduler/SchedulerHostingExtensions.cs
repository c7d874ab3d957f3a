using k8s;
using Laps.Scheduler.Api;
using Laps.Scheduler.Discovery;
using Laps.Scheduler.Observability;
using Laps.Scheduler.Prediction;
using Laps.Scheduler.Serving;
using Laps.Scheduler.Serving.Sessions;
using Laps.Scheduling.Prediction;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using WorkerToken = Laps.Worker.V1.WorkerToken;

namespace Laps.Scheduler;

/// <summary>The sidecar's composition root. Hosts call <c>builder.AddLapsScheduler()</c>, then <c>app.MapLapsScheduler()</c>.</summary>
public static class SchedulerHostingExtensions
{
    /// <summary>
    /// Registers the sidecar. Every service is added with TryAdd, so a host (or a test) that registered its own
    /// <see cref="ILengthPredictor"/>, <see cref="ITokenizer"/>, <see cref="IWorkerClientFactory"/> or <see cref="IWorkerSessionFactory"/>,
    /// <see cref="CollectorRegistry"/>, <see cref="TimeProvider"/> or <see cref="WorkerToken"/> (instead of
    /// <see cref="SchedulerOptions.WorkerTokenFile"/>) first keeps it.
    /// </summary>
    public static IHostApplicationBuilder AddLapsScheduler(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SchedulerOptions>()
            .Configure(options => SchedulerOptions.Bind(builder.Configuration.GetSection(SchedulerOptions.SectionName), options))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SchedulerOptions>, SchedulerOptionsValidator>());

        // Shutdown waits for the drain, so the host must give it that long (plus a margin to stop the loops). Read
        // unvalidated: the host resolves HostOptions even when it stops after a failed validation.
        services.AddOptions<HostOptions>().Configure(host =>
        {
            var drain = new SchedulerOptions().DrainTimeout;
            try
            {
                drain = builder.Configuration.GetSection(SchedulerOptions.SectionName).GetValue(nameof(SchedulerOptions.DrainTimeout), drain);
            }
            catch (InvalidOperationException)
            {
                // A malformed value: validation at start reports it.
            }

            var needed = drain + TimeSpan.FromSeconds(5);
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SchedulerClock>();
        services.TryAddSingleton(_ => Metrics.NewCustomRegistry());
        services.TryAddSingleton<IMetricFactory>(sp => Metrics.WithCustomRegistry(sp.GetRequiredService<CollectorRegistry>()));
        services.TryAddSingleton<SchedulerMetrics>();
        services.TryAddSingleton<TenantLabels>();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<SchedulerOptions>>().Value.ApiKeyFile is { } keyFile
            ? ApiKeys.FromFile(keyFile, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger<ApiKeys>())
            : ApiKeys.None);
        services.TryAddSingleton<ITokenizer, StandInTokenizer>();
        services.TryAddSingleton<ILengthPredictor>(sp => new OnlineLengthPredictor(new OnlineLengthPredictorOptions { PriorLength = sp.GetRequiredService<IOptions<SchedulerOptions>>().Value.PriorLengthTokens }));
        services.TryAddSingleton<IWorkerClientFactory, GrpcWorkerClientFactory>();
        services.TryAddSingleton(sp => new ProcessIncarnation(
            sp.GetRequiredService<IOptions<SchedulerOptions>>().Value.Name, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IWorkerSessionFactory>(sp =>
        {
            // A token registered by the host (a local pool's) wins over the file.
            var options = sp.GetRequiredService<IOptions<SchedulerOptions>>().Value;
            var time = sp.GetRequiredService<TimeProvider>();
            var token = sp.GetService<WorkerToken>() ?? (options.WorkerTokenFile is { } file
                ? WorkerToken.FromFile(file, time, sp.GetRequiredService<ILoggerFactory>().CreateLogger<WorkerToken>())
                : null);
            return new GrpcWorkerSessionFactory(sp.GetRequiredService<IWorkerClientFactory>(), time, sp.GetRequiredService<ProcessIncarnation>(), token);
        });
        services.TryAddSingleton<WorkerPool>();
        services.TryAddSingleton<IKubernetes>(_ => new Kubernetes(KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile()));
        services.TryAddSingleton<IWorkerDiscovery>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<SchedulerOptions>>().Value;
            return string.Equals(options.Discovery.Mode, DiscoveryOptions.Kubernetes, StringComparison.OrdinalIgnoreCase)
                ? new KubernetesWorkerDiscovery(
                    sp.GetRequiredService<IKubernetes>(), options.Discovery, sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<KubernetesWorkerDiscovery>>())
                : new StaticWorkerDiscovery([.. options.Workers]);
        });
        if (builder.Configuration.GetSection(SchedulerOptions.SectionName).GetValue<bool>("LeaderElection:Enabled"))
        {
            services.TryAddSingleton<LeaseLeadership>();
            services.TryAddSingleton<ILeadership>(sp => sp.GetRequiredService<LeaseLeadership>());
            services.AddHostedService(sp => sp.GetRequiredService<LeaseLeadership>());
        }
        else
        {
            services.TryAddSingleton<ILeadership, SoleLeader>();
        }

        services.AddHostedService<SchedulerService>();
        return builder;
    }
}
