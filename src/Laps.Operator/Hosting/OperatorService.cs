using System.Net;
using k8s;
using k8s.LeaderElection.ResourceLock;
using Laps.Operator.Controller;
using Laps.Operator.Kube;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Laps.Operator.Hosting;

/// <summary>
/// The operator process: probe what the cluster offers, then (as leader, when electing) run the pool controller.
/// Readiness means leading with synced caches, so only the active instance reports ready. An instance that loses the
/// Lease abandons its reconciles at once and stops the process, as controller-runtime does: the restarted one
/// campaigns again with fresh caches.
/// </summary>
public sealed class OperatorService(
    KubeApi api, OperatorOptions options, OperatorMetrics metrics, TimeProvider time, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<OperatorService>();
    private volatile PoolController? _controller;

    public bool Ready => _controller?.Synced == true;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.LeaderElect)
        {
            await LeadAsync(new LeaderTerm(stoppingToken, CancellationToken.None)).ConfigureAwait(false);
            return;
        }

        var elector = new LeaseElector(
            new LeaseLock(api.Client, options.LeaseNamespace, options.LeaseName, options.Identity), time, loggers.CreateLogger<LeaseElector>());
        var lost = await elector.RunAsync(LeadAsync, stoppingToken).ConfigureAwait(false);
        if (!stoppingToken.IsCancellationRequested)
        {
            if (_logger.IsEnabled(LogLevel.Error))
            {
                _logger.LogError(
                    "{Identity} {What} on {Lease}: stopping so that a fresh process campaigns again",
                    options.Identity, lost ? "lost the Lease" : "stopped leading", $"{options.LeaseNamespace}/{options.LeaseName}");
            }

            lifetime.StopApplication();
        }
    }

    private async Task LeadAsync(LeaderTerm leaderTerm)
    {
        var term = leaderTerm.Ending;
        metrics.Leader.Set(1);
        try
        {
            var capabilities = await ProbeAsync(term).ConfigureAwait(false);
            var settings = new OperatorSettings { DefaultImage = options.DefaultImage, WatchNamespace = options.Namespace };
            _controller = new PoolController(api, settings, capabilities, metrics, time, loggers, options.Identity);
            await _controller.RunAsync(term, leaderTerm.Lost).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (term.IsCancellationRequested)
        {
        }
        finally
        {
            _controller = null;
            metrics.Leader.Set(0);
        }
    }

    // The ServiceMonitor kind exists only where the Prometheus Operator is installed; looked up once per term.
    private async Task<ClusterCapabilities> ProbeAsync(CancellationToken ct)
    {
        try
        {
            await api.Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("servicemonitors.monitoring.coreos.com", cancellationToken: ct).ConfigureAwait(false);
            return new ClusterCapabilities(ServiceMonitorCrd: true);
        }
        catch (Exception e) when (KubeApi.StatusOf(e) is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            return ClusterCapabilities.None;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                _logger.LogWarning(e, "could not tell whether the ServiceMonitor CRD exists; assuming it does not");
            }

            return ClusterCapabilities.None;
        }
    }
}
