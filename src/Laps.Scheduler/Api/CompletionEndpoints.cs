using System.Text;
using System.Text.Json;
using Laps.Scheduler.Discovery;
using Laps.Scheduler.Observability;
using Laps.Scheduler.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Laps.Scheduler.Api;

/// <summary>
/// The OpenAI-compatible front: authenticate and name the tenant, parse and validate, admit, then relay the request's
/// events as JSON or SSE. With API keys every <c>/v1/</c> path needs one; <c>/healthz</c>, <c>/readyz</c> and
/// <c>/metrics</c> stay open (probes and Prometheus carry no credentials).
/// </summary>
public static class CompletionEndpoints
{
    /// <summary>The header that names a request's tenant when the sidecar has no API keys (ignored when it has).</summary>
    public const string TenantHeader = "X-Laps-Tenant";

    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static IEndpointRouteBuilder MapLapsScheduler(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/completions", (HttpContext context) => ServeAsync(context, chat: false));
        endpoints.MapPost("/v1/chat/completions", (HttpContext context) => ServeAsync(context, chat: true));
        endpoints.MapGet("/v1/models", async (HttpContext context, IOptions<SchedulerOptions> options) =>
        {
            if (await AuthorizedAsync(context).ConfigureAwait(false))
            {
                await context.Response.WriteAsJsonAsync(new ModelList("list", [new ModelCard(options.Value.Model, "model", 0, "laps")]), Wire.Options, context.RequestAborted)
                    .ConfigureAwait(false);
            }
        });
        endpoints.MapGet("/healthz", () => Results.Text("ok"));
        endpoints.MapGet("/readyz", (WorkerPool pool, ILeadership leadership) => (pool.Ready, leadership.IsLeading) switch
        {
            (_, false) => Results.Text("standing by: another replica holds the lease", statusCode: StatusCodes.Status503ServiceUnavailable),
            (true, _) => Results.Text("ready"),
            _ => Results.Text(pool.Accepting ? "no worker has answered yet" : "shutting down", statusCode: StatusCodes.Status503ServiceUnavailable),
        });
        endpoints.MapGet("/metrics", async (HttpContext context, CollectorRegistry registry) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });

        // Every other method on these paths, and every other path, in the OpenAI error shape rather than an empty body.
        string[] methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        foreach (var (path, allow) in new[]
        {
            ("/v1/completions", "POST"), ("/v1/chat/completions", "POST"), ("/v1/models", "GET"), ("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET"),
        })
        {
            endpoints.MapMethods(path, methods.Where(m => m != allow), context => NoSuchEndpointAsync(context, StatusCodes.Status405MethodNotAllowed, allow));
        }

        endpoints.MapFallback(context => NoSuchEndpointAsync(context, StatusCodes.Status404NotFound, null));
        return endpoints;
    }

    private static async Task ServeAsync(HttpContext context, bool chat)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
        var pool = services.GetRequiredService<WorkerPool>();
        var metrics = services.GetRequiredService<SchedulerMetrics>();
        var time = services.GetRequiredService<TimeProvider>();

        CompletionRequest request;
        IReadOnlyList<int> promptTokenIds;
        string tenant;
        var label = TenantLabels.Unknown;
        try
        {
            (tenant, label) = Identify(context);
            request = await ReadAsync(context, chat, options).ConfigureAwait(false);
            promptTokenIds = request.PromptTokenIds ?? await pool.TokenizeAsync(request.Prompt!, context.RequestAborted).ConfigureAwait(false);
            CompletionRequestParser.CheckPromptLength(promptTokenIds.Count, chat, options);
            CheckFits(pool, request, promptTokenIds.Count);
            CheckSampling(pool, request);
        }
        catch (ApiException error)
        {
            metrics.Rejected.WithLabels(error.Reason).Inc();
            metrics.TenantRequests.WithLabels(label, error.Reason).Inc();
            if (error.Status == StatusCodes.Status503ServiceUnavailable)
            {
                context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            await WriteErrorAsync(context, error).ConfigureAwait(false);
            return;
        }

        var live = pool.Create(promptTokenIds, request.MaxTokens, request.Seed, request.Sampling, tenant, context.RequestAborted);
        AdmissionResult admission;
        try
        {
            admission = pool.TryAdmit(live);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A defect in the scheduling core, not the client's fault: an OpenAI-style 500, and it is logged.
            metrics.Rejected.WithLabels(RejectReason.InternalError).Inc();
            metrics.TenantRequests.WithLabels(label, RejectReason.InternalError).Inc();
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CompletionEndpoints).FullName!)
                .LogError(e, "admitting a request failed");
            await WriteErrorAsync(context, new ApiException(500, "the scheduler failed to admit the request", "server_error", null, "internal_error", RejectReason.InternalError))
                .ConfigureAwait(false);
            return;
        }

        metrics.TenantRequests.WithLabels(label, admission switch
        {
            AdmissionResult.Admitted => "admitted",
            AdmissionResult.QueueFull => RejectReason.QueueFull,
            AdmissionResult.TenantQueueFull => RejectReason.TenantQueueFull,
            AdmissionResult.NoWorkers => RejectReason.NoWorkers,
            _ => RejectReason.ShuttingDown,
        }).Inc();
        switch (admission)
        {
            case AdmissionResult.TenantQueueFull:
                metrics.Rejected.WithLabels(RejectReason.TenantQueueFull).Inc();
                context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, new ApiException(
                    429, $"tenant '{tenant}' already has its share of the queue waiting while other tenants have work; retry later", "rate_limit_error", null,
                    "tenant_queue_full", RejectReason.TenantQueueFull)).ConfigureAwait(false);
                return;
            case AdmissionResult.QueueFull:
                metrics.Rejected.WithLabels(RejectReason.QueueFull).Inc();
                context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, new ApiException(
                    429, "too many requests are waiting; retry later", "rate_limit_error", null, "queue_full", RejectReason.QueueFull)).ConfigureAwait(false);
                return;
            case AdmissionResult.NoWorkers:
                metrics.Rejected.WithLabels(RejectReason.NoWorkers).Inc();
                context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, new ApiException(
                    503, "no worker is available yet; retry later", "server_error", null, "no_workers", RejectReason.NoWorkers)).ConfigureAwait(false);
                return;
            case AdmissionResult.ShuttingDown:
                metrics.Rejected.WithLabels(RejectReason.ShuttingDown).Inc();
                context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, new ApiException(
                    503, "the scheduler is shutting down", "server_error", null, "shutting_down", RejectReason.ShuttingDown)).ConfigureAwait(false);
                return;
        }

        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var id = (chat ? "chatcmpl-" : "cmpl-") + live.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var abort = context.RequestAborted.Register(() => pool.Cancel(live));
        try
        {
            if (request.Stream)
            {
                await StreamAsync(context, live, request, id, created).ConfigureAwait(false);
            }
            else
            {
                await RespondAsync(context, live, request, id, created).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the registration above has cancelled the request in its loop.
        }
    }

    /// <summary>
    /// The request's tenant and its metrics label: with API keys, the tenant of the key it carries (else 401); without,
    /// the <see cref="TenantHeader"/> header's (a bad one is a 400 naming it), else <c>default</c>.
    /// </summary>
    private static (string Tenant, string Label) Identify(HttpContext context)
    {
        var services = context.RequestServices;
        var keys = services.GetRequiredService<ApiKeys>();
        var labels = services.GetRequiredService<TenantLabels>();
        if (keys.Enabled)
        {
            var tenant = keys.TenantOf(context.Request.Headers.Authorization.ToString()) ?? throw Unauthorized(context);
            return (tenant, labels.For(tenant, fromKeyFile: true));
        }

        if (!context.Request.Headers.TryGetValue(TenantHeader, out var values))
        {
            return (Laps.Scheduling.FairShare.DefaultTenant, labels.For(Laps.Scheduling.FairShare.DefaultTenant, fromKeyFile: false));
        }

        var named = values.Count == 1 ? values[0]!.Trim() : null;
        if ((named is null ? "it is given more than once" : Laps.Scheduling.FairShare.Rejection(named)) is { } problem)
        {
            throw ApiException.Invalid($"the header {TenantHeader} must name one tenant: {problem}", null, "invalid_tenant");
        }

        return (named!, labels.For(named!, fromKeyFile: false));
    }

    /// <summary>Whether the request may use a <c>/v1/</c> path; if not, the 401 is written and counted.</summary>
    private static async Task<bool> AuthorizedAsync(HttpContext context)
    {
        var keys = context.RequestServices.GetRequiredService<ApiKeys>();
        if (!keys.Enabled || keys.TenantOf(context.Request.Headers.Authorization.ToString()) is not null)
        {
            return true;
        }

        var metrics = context.RequestServices.GetRequiredService<SchedulerMetrics>();
        metrics.Rejected.WithLabels(RejectReason.Unauthorized).Inc();
        metrics.TenantRequests.WithLabels(TenantLabels.Unknown, RejectReason.Unauthorized).Inc();
        await WriteErrorAsync(context, Unauthorized(context)).ConfigureAwait(false);
        return false;
    }

    /// <summary>A 401 as OpenAI answers a missing or wrong key, with the challenge RFC 6750 asks for.</summary>
    private static ApiException Unauthorized(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        var message = context.Request.Headers.Authorization.Count == 0
            ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            : "Incorrect API key provided.";
        return new ApiException(StatusCodes.Status401Unauthorized, message, ApiException.InvalidRequest, null, "invalid_api_key", RejectReason.Unauthorized);
    }

    /// <summary>As the engines answer it: a request that can never fit a worker's KV cache is refused, not queued.</summary>
    private static void CheckFits(WorkerPool pool, CompletionRequest request, int promptTokens)
    {
        var requested = promptTokens + (long)request.MaxTokens;
        if (pool.ContextLimit is long limit && requested > limit)
        {
            throw new ApiException(
                400,
                string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"This model's maximum context length is {limit} tokens. However, you requested {requested} tokens ({promptTokens} in the prompt, {request.MaxTokens} for the completion). Please reduce the prompt or max_tokens."),
                ApiException.InvalidRequest,
                request.Chat ? "messages" : "prompt",
                "context_length_exceeded",
                RejectReason.ContextTooLong);
        }
    }

    /// <summary>A sampling parameter the pool's workers do not honour is refused by name, never ignored.</summary>
    private static void CheckSampling(WorkerPool pool, CompletionRequest request)
    {
        if (request.Sampling is null || pool.SamplingParameters is not { } honoured)
        {
            return;
        }

        foreach (var field in request.Sampling.SetFields())
        {
            if (!honoured.Contains(field))
            {
                throw new ApiException(
                    400, $"'{field}' is not supported by the workers of this pool", ApiException.InvalidRequest, field, "unsupported_parameter",
                    RejectReason.InvalidRequest);
            }
        }
    }

    private static async Task<CompletionRequest> ReadAsync(HttpContext context, bool chat, SchedulerOptions options)
    {
        if (context.Request.ContentLength > options.MaxRequestBodyBytes)
        {
            throw TooLarge(options);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.MaxRequestBodyBytes; // a body without a length is cut where it passes it
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw ApiException.Invalid($"the body is not valid JSON: {e.Message}", null, "invalid_json");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(options);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits (client too slow...), answered in the OpenAI shape.
            throw new ApiException(e.StatusCode, e.Message, ApiException.InvalidRequest, null, "bad_request", RejectReason.InvalidRequest);
        }

        using (document)
        {
            try
            {
                return CompletionRequestParser.Parse(document.RootElement, chat, options);
            }
            catch (InvalidOperationException e) when (e.InnerException is System.Text.DecoderFallbackException or null)
            {
                // A JSON string with a lone surrogate escape (or bytes that are not UTF-8) cannot become text.
                throw ApiException.Invalid($"the body holds a string that is not valid Unicode text: {e.Message}", null, "invalid_text");
            }
        }
    }

    private static ApiException TooLarge(SchedulerOptions options) => new(
        StatusCodes.Status413PayloadTooLarge,
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the request body is larger than {options.MaxRequestBodyBytes} bytes"),
        ApiException.InvalidRequest, null, "request_too_large", RejectReason.InvalidRequest);

    /// <summary>
    /// An OpenAI-style body for the status the routing answered (404: no such path; 405: not with this method); under
    /// <c>/v1/</c>, only to a client with a key when keys are on.
    /// </summary>
    private static async Task NoSuchEndpointAsync(HttpContext context, int status, string? allow)
    {
        if (context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal) && !await AuthorizedAsync(context).ConfigureAwait(false))
        {
            return;
        }

        context.Response.StatusCode = status;
        if (allow is not null)
        {
            context.Response.Headers.Allow = allow;
        }

        var message = status == StatusCodes.Status404NotFound
            ? $"Unknown request URL: {context.Request.Method} {context.Request.Path}"
            : $"{context.Request.Method} is not allowed on {context.Request.Path}; use {allow}";
        var code = status == StatusCodes.Status404NotFound ? "unknown_url" : "method_not_allowed";
        await context.Response.WriteAsJsonAsync(
            new ApiException(status, message, ApiException.InvalidRequest, null, code, RejectReason.InvalidRequest).ToBody(), Wire.Options, context.RequestAborted)
            .ConfigureAwait(false);
    }

    private static async Task RespondAsync(HttpContext context, LiveRequest live, CompletionRequest request, string id, long created)
    {
        var text = new StringBuilder();
        RequestFinished? finished = null;
        try
        {
            await foreach (var e in live.Events.ReadAllAsync(context.RequestAborted).ConfigureAwait(false))
            {
                switch (e)
                {
                    case TokensEmitted tokens:
                        text.Append(tokens.Text);
                        break;
                    case RequestFinished last:
                        finished = last;
                        break;
                }
            }
        }
        catch (RequestFailedException failure)
        {
            await WriteErrorAsync(context, Failure(failure)).ConfigureAwait(false);
            return;
        }

        if (finished is null)
        {
            return; // cancelled
        }

        object choice = request.Chat
            ? new ChatChoice(0, new ChatMessage("assistant", text.ToString()), finished.FinishReason)
            : new CompletionChoice(0, text.ToString(), finished.FinishReason);
        var body = new CompletionResponse(
            id, request.Chat ? "chat.completion" : "text_completion", created, request.Model, [choice], UsageOf(finished), LapsOf(finished));
        await context.Response.WriteAsJsonAsync(body, Wire.Options, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task StreamAsync(HttpContext context, LiveRequest live, CompletionRequest request, string id, long created)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false); // headers now, before the first token
        var kind = request.Chat ? "chat.completion.chunk" : "text_completion";
        var first = true;
        try
        {
            await foreach (var e in live.Events.ReadAllAsync(context.RequestAborted).ConfigureAwait(false))
            {
                object chunk = e switch
                {
                    TokensEmitted tokens => new CompletionResponse(id, kind, created, request.Model, [Choice(request.Chat, tokens.Text, null, first)], null, null),
                    RequestFinished last => new CompletionResponse(
                        id, kind, created, request.Model, [Choice(request.Chat, null, last.FinishReason, first)], UsageOf(last), LapsOf(last)),
                    _ => throw new InvalidOperationException($"unexpected event {e}"),
                };
                first = false;
                await WriteEventAsync(response, chunk, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (RequestFailedException failure)
        {
            // Headers are gone: the error travels as an event, as OpenAI's streams carry it.
            await WriteEventAsync(response, Failure(failure).ToBody(), context.RequestAborted).ConfigureAwait(false);
        }

        await response.Body.WriteAsync(Done, context.RequestAborted).ConfigureAwait(false);
        await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static object Choice(bool chat, string? text, string? finishReason, bool first)
        => chat
            ? new ChatChunkChoice(0, new ChatDelta(first ? "assistant" : null, text), finishReason)
            : new CompletionChoice(0, text ?? string.Empty, finishReason);

    private static async Task WriteEventAsync(HttpResponse response, object payload, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(payload, payload.GetType(), Wire.ChunkOptions);
        await response.Body.WriteAsync("data: "u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await response.Body.WriteAsync(json, cancellationToken).ConfigureAwait(false);
        await response.Body.WriteAsync("\n\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Usage UsageOf(RequestFinished f) => new(f.PromptTokens, f.CompletionTokens, f.PromptTokens + f.CompletionTokens);

    private static LapsUsage LapsOf(RequestFinished f)
        => new(f.Drafted, f.Accepted, f.Drafted > 0 ? (double)f.Accepted / f.Drafted : null, f.Preemptions);

    private static ApiException Failure(RequestFailedException failure) => failure.Reason switch
    {
        RejectReason.ShuttingDown => new ApiException(503, failure.Message, "server_error", null, "shutting_down", failure.Reason),
        RejectReason.InternalError => new ApiException(500, failure.Message, "server_error", null, "internal_error", failure.Reason),
        _ => new ApiException(502, failure.Message, "server_error", null, "worker_error", failure.Reason),
    };

    private static Task WriteErrorAsync(HttpContext context, ApiException error)
    {
        context.Response.StatusCode = error.Status;
        return context.Response.WriteAsJsonAsync(error.ToBody(), Wire.Options, context.RequestAborted);
    }
}
