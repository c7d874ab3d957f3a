using System.Net;
using k8s.Models;
using Laps.Kubernetes.Fake;
using Laps.Operator.Hosting;
using Laps.Operator.Model;
using Microsoft.AspNetCore.Builder;

namespace Laps.Operator.Tests;

/// <summary>End to end over loopback: laps operator's host against the fake API server.</summary>
public sealed class OperatorHostTests
{
    [Fact]
    public async Task The_host_leads_reconciles_and_serves_health_readiness_and_metrics()
    {
        using var timeout = new CancellationTokenSource(OperatorHarness.Bound);
        await using var server = await FakeKubernetesServer.StartAsync();
        var options = new OperatorOptions { Url = "http://127.0.0.1:0", LeaseNamespace = "laps-system", Identity = "op-0", DefaultImage = "laps:test" };
        await using var app = OperatorHost.Build(options, server.ClientConfiguration());
        await app.StartAsync(timeout.Token);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        server.Seed(new InferencePool { Metadata = new V1ObjectMeta { Name = "chat", NamespaceProperty = "serving" } });
        while (server.TryGet<V1Deployment>("serving", "chat-workers") is null || (await http.GetAsync(new Uri("/readyz", UriKind.Relative), timeout.Token)).StatusCode != HttpStatusCode.OK)
        {
            await Task.Delay(10, timeout.Token);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz", UriKind.Relative), timeout.Token)).StatusCode);
        Assert.Equal("op-0", server.Get<V1Lease>("laps-system", "laps-operator").Spec.HolderIdentity);
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), timeout.Token);
        Assert.Contains("laps_operator_leader 1", metrics, StringComparison.Ordinal);
        Assert.Contains("laps_operator_reconcile_total{result=\"success\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("laps_operator_reconcile_errors_total", metrics, StringComparison.Ordinal);
        Assert.Contains("laps_operator_reconcile_recovered_total 0", metrics, StringComparison.Ordinal);
        Assert.Contains("laps_operator_reconcile_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("laps_operator_workqueue_depth", metrics, StringComparison.Ordinal);

        await app.StopAsync(timeout.Token);
        Assert.Equal("", server.Get<V1Lease>("laps-system", "laps-operator").Spec.HolderIdentity ?? "");
    }
}
