using k8s;
using Laps.Operator.Kube;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Prometheus;

namespace Laps.Operator.Hosting;

/// <summary>The composition root of <c>laps operator</c>: Kestrel for /healthz, /readyz, /metrics; the operator as a hosted service.</summary>
public static class OperatorHost
{
    public static WebApplication Build(OperatorOptions options, KubernetesClientConfiguration? config = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "laps" });
        builder.WebHost.UseUrls(options.Url);
        builder.AddLapsOperator(options, config, time);
        var app = builder.Build();
        app.MapLapsOperator();
        return app;
    }

    public static IHostApplicationBuilder AddLapsOperator(
        this IHostApplicationBuilder builder, OperatorOptions options, KubernetesClientConfiguration? config = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        config ??= options.Kubeconfig is null && KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(options.Kubeconfig);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(time ?? TimeProvider.System);
        builder.Services.AddSingleton<IKubernetes>(_ => KubeApi.CreateClient(config));
        builder.Services.AddSingleton(sp => new KubeApi(sp.GetRequiredService<IKubernetes>()));
        builder.Services.AddSingleton(_ => new OperatorMetrics(Metrics.DefaultFactory));
        builder.Services.AddSingleton<OperatorService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OperatorService>());
        // In-flight reconciles get 10 s to finish, the Lease a moment to be released.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return builder;
    }

    public static WebApplication MapLapsOperator(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (OperatorService operatorService) => operatorService.Ready
            ? Results.Text("ok\n")
            : Results.Text("not leading, or caches not synced\n", statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapMetrics("/metrics");
        return app;
    }
}
