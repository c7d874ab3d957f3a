using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Net.Http.Headers;

namespace Laps.Worker.Engines;

/// <summary>
/// The engine's metrics on a port of their own (<c>laps worker --engine vllm|sglang --engine-metrics-port P</c>): the
/// engine listens on the pod's loopback only and serves <c>/metrics</c> beside its unauthenticated API, so Prometheus
/// scrapes this proxy instead. It answers <c>GET /metrics</c> with the engine's <c>/metrics</c>, body and content type
/// unchanged, and nothing else (404), so the port exposes the engine's counters and gauges and no route to its API.
/// No token: a scrape carries none, and the text holds counts, not the requests' prompts or outputs.
/// </summary>
public static class EngineMetricsProxy
{
    /// <summary>The longest the proxy waits for the engine's answer (under Prometheus' default scrape timeout, 10 s).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(8);

    /// <summary>The largest metrics text passed on; an engine's is tens of KiB, a few MiB with many LoRA adapters or models.</summary>
    public const int DefaultMaxBytes = 16 * 1024 * 1024;

    public const string Path = "/metrics";

    /// <summary>
    /// A web application serving the proxy on host:port over HTTP/1.1 (port 0: any free one) in front of the engine at
    /// <paramref name="engineUrl"/>. A <see cref="TimeProvider"/> registered by <paramref name="configure"/> times the
    /// engine's answer.
    /// </summary>
    public static WebApplication Build(
        Uri engineUrl, string host, int port, Action<WebApplicationBuilder>? configure = null,
        TimeSpan? timeout = null, int maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(engineUrl);
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        if (!engineUrl.IsAbsoluteUri || (engineUrl.Scheme != Uri.UriSchemeHttp && engineUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"engine URL '{engineUrl}' must be an absolute http(s) URL", nameof(engineUrl));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        var limit = timeout ?? DefaultTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(limit, TimeSpan.Zero, nameof(timeout));

        var builder = WorkerHost.SlimBuilder(host, port, HttpProtocols.Http1, TimeSpan.FromSeconds(2));
        configure?.Invoke(builder);
        builder.Services.TryAddSingleton(TimeProvider.System);
        var app = builder.Build();
        var time = app.Services.GetRequiredService<TimeProvider>();

        // The timeout is the proxy's own (on the TimeProvider), so the client's is off.
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        app.Lifetime.ApplicationStopped.Register(http.Dispose);
        var metrics = new Uri(engineUrl.AbsoluteUri.TrimEnd('/') + Path); // under the URL's path, as the adapter's calls
        app.Run(context => ServeAsync(context, http, metrics, time, limit, maxBytes));
        return app;
    }

    private static async Task ServeAsync(HttpContext context, HttpClient http, Uri metrics, TimeProvider time, TimeSpan timeout, int maxBytes)
    {
        if (!HttpMethods.IsGet(context.Request.Method) || context.Request.Path != Path)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        using var deadline = new CancellationTokenSource(timeout, time);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, context.RequestAborted);
        using var request = new HttpRequestMessage(HttpMethod.Get, metrics);
        if (context.Request.Headers.Accept is { Count: > 0 } accept)
        {
            // Prometheus' Accept lets the engine choose OpenMetrics or the text format, as when scraped directly.
            request.Headers.TryAddWithoutValidation(HeaderNames.Accept, (IEnumerable<string?>)accept);
        }

        string failure;
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, both.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                failure = $"the engine answered {(int)response.StatusCode} to GET {metrics}";
            }
            else if (await ReadAtMostAsync(response.Content, maxBytes, both.Token).ConfigureAwait(false) is not { } body)
            {
                failure = $"the engine's metrics from GET {metrics} exceed {maxBytes} bytes";
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
                return;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the scraper went away
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            failure = string.Create(CultureInfo.InvariantCulture, $"the engine did not answer GET {metrics} within {timeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            failure = $"the engine did not answer GET {metrics}: {e.Message}";
        }

        context.Response.StatusCode = StatusCodes.Status502BadGateway;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(failure + "\n", context.RequestAborted).ConfigureAwait(false);
    }

    // The body, or null when it is longer than maxBytes (read no further than that).
    private static async Task<byte[]?> ReadAtMostAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > maxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }

        return buffer.ToArray();
    }
}
