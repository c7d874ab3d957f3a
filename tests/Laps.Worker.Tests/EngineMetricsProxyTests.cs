using System.Net;
using Laps.Emulation;
using Laps.Worker.Engines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Worker.Tests;

/// <summary>
/// `laps worker --engine-metrics-port`: the proxy on a real loopback socket in front of an emulated engine (or an engine
/// that is down, slow or wrong), scraped over HTTP/1.1 as Prometheus scrapes it.
/// </summary>
public sealed class EngineMetricsProxyTests : IAsyncLifetime, IDisposable
{
    private readonly List<WebApplication> _apps = [];
    private readonly HttpClient _http = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public void Dispose() => _http.Dispose();

    public async Task DisposeAsync()
    {
        foreach (var app in Enumerable.Reverse(_apps))
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(EngineKind.Vllm, "vllm:num_requests_waiting")]
    [InlineData(EngineKind.Sglang, "sglang:num_queue_reqs")]
    public async Task GET_metrics_returns_the_engines_metrics_text_and_content_type_unchanged(EngineKind kind, string series)
    {
        var engine = await StartEngineAsync(kind);
        var proxy = await StartProxyAsync(engine);

        using var direct = await _http.GetAsync(new Uri(engine, "metrics"));
        using var proxied = await _http.GetAsync(new Uri(proxy, "metrics"));

        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        var text = await proxied.Content.ReadAsStringAsync();
        Assert.Contains(series, text, StringComparison.Ordinal);
        Assert.Equal(await direct.Content.ReadAsStringAsync(), text);
        Assert.NotNull(direct.Content.Headers.ContentType);
        Assert.Equal(direct.Content.Headers.ContentType, proxied.Content.Headers.ContentType);
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("GET", "health")]
    [InlineData("GET", "v1/models")]
    [InlineData("POST", "v1/completions")]
    [InlineData("GET", "metrics/x")]
    [InlineData("GET", "metrics.txt")]
    [InlineData("POST", "metrics")]
    [InlineData("DELETE", "metrics")]
    public async Task Anything_but_GET_metrics_is_not_found(string method, string path)
    {
        var engine = await StartEngineAsync(EngineKind.Vllm);
        var proxy = await StartProxyAsync(engine);

        using var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(proxy, path))
        {
            Content = method == "POST" ? new StringContent("{\"prompt\":[1,2],\"max_tokens\":1}", System.Text.Encoding.UTF8, "application/json") : null,
        });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task An_engine_that_is_down_is_a_502_saying_so()
    {
        var port = EmulatorHost.FreePort(); // nothing listens there
        var proxy = await StartProxyAsync(new Uri($"http://127.0.0.1:{port}"));

        using var response = await _http.GetAsync(new Uri(proxy, "metrics"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.StartsWith($"the engine did not answer GET http://127.0.0.1:{port}/metrics: ", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_engine_answering_an_error_is_a_502_naming_its_status()
    {
        var engine = await StartEngineAsync(EngineKind.Sglang);
        var proxy = await StartProxyAsync(new Uri(engine, "no-such-prefix/")); // its /metrics is under the URL's path: 404 there

        using var response = await _http.GetAsync(new Uri(proxy, "metrics"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal($"the engine answered 404 to GET {engine}no-such-prefix/metrics\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_longer_than_the_bound_are_a_502_not_passed_on()
    {
        var engine = await StartEngineAsync(EngineKind.Vllm);
        var proxy = await StartProxyAsync(engine, maxBytes: 100);

        using var response = await _http.GetAsync(new Uri(proxy, "metrics"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal($"the engine's metrics from GET {engine}metrics exceed 100 bytes\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_engine_that_does_not_answer_within_the_timeout_is_a_502()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hanging = WebApplication.CreateSlimBuilder();
        hanging.WebHost.UseUrls("http://127.0.0.1:0");
        hanging.Logging.ClearProviders();
        var engineApp = hanging.Build();
        engineApp.MapGet("/metrics", async (HttpContext context) =>
        {
            arrived.TrySetResult();
            await release.Task.WaitAsync(context.RequestAborted);
            return "late 1\n";
        });
        await StartAsync(engineApp);
        var time = new FakeTimeProvider();
        var proxy = await StartProxyAsync(engineApp.BoundAddresses()[0], time: time);

        var scrape = _http.GetAsync(new Uri(proxy, "metrics"));
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(scrape.IsCompleted);
        time.Advance(EngineMetricsProxy.DefaultTimeout);
        using var response = await scrape.WaitAsync(TimeSpan.FromSeconds(30));
        release.TrySetResult();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal($"the engine did not answer GET {engineApp.BoundAddresses()[0]}metrics within 8 s\n", await response.Content.ReadAsStringAsync());
    }

    private async Task<Uri> StartEngineAsync(EngineKind kind)
    {
        var options = new EmulatorOptions { Engine = kind, Model = new SimWorkerOptions { WorkerId = "emulated", K = 2, TimeScale = 2, Workload = "reasoning" } };
        var app = EmulatorHost.Build(options, "127.0.0.1", 0, b => b.Logging.ClearProviders());
        await StartAsync(app);
        return app.BoundAddresses()[0];
    }

    private async Task<Uri> StartProxyAsync(Uri engine, int maxBytes = EngineMetricsProxy.DefaultMaxBytes, TimeProvider? time = null)
    {
        var app = EngineMetricsProxy.Build(engine, "127.0.0.1", 0, b =>
        {
            b.Logging.ClearProviders();
            if (time is not null)
            {
                b.Services.AddSingleton<TimeProvider>(time);
            }
        }, maxBytes: maxBytes);
        await StartAsync(app);
        return app.BoundAddresses()[0];
    }

    private async Task StartAsync(WebApplication app)
    {
        _apps.Add(app);
        await app.StartAsync();
    }
}
