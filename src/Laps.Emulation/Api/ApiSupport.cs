using Laps.Worker.V1;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Laps.Worker.Sim;
using Microsoft.AspNetCore.Http;

namespace Laps.Emulation.Api;

/// <summary>A request the emulator refuses: status and message, written in the engine's error shape.</summary>
internal sealed class EmulatorApiException(int status, string message, string? parameter = null) : Exception(message)
{
    public int Status { get; } = status;

    public string? Parameter { get; } = parameter;
}

/// <summary>What both faces share: JSON bodies, server-sent events, sampling fields, prompts.</summary>
internal static class ApiSupport
{
    public static async Task<JsonElement> ReadBodyAsync(HttpContext context)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new EmulatorApiException(400, "the body is not JSON: " + e.Message);
        }
    }

    /// <summary>Runs an endpoint; a client mistake it throws becomes the engine's own error body, if nothing was sent yet.</summary>
    public static async Task GuardAsync(HttpContext context, Func<Task> handler, Func<EmulatorApiException, JsonObject> error)
    {
        try
        {
            await handler().ConfigureAwait(false);
        }
        catch (EmulatorApiException e) when (!context.Response.HasStarted)
        {
            await WriteJsonAsync(context, e.Status, error(e)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What a response handler does with its engine request when it ends before the request finished (the client closed
    /// the stream, a write failed): <paramref name="abandon"/> runs on dispose. Not a registration on RequestAborted:
    /// the handler's own awaits on that token resume inline when it fires and would dispose such a registration
    /// before its turn, so the engine would keep running a request nobody reads.
    /// </summary>
    public static IDisposable AbandonUnlessCompleted(EmulatedRequest request, Action abandon)
        => new Abandon(request, abandon);

    private sealed class Abandon(EmulatedRequest request, Action abandon) : IDisposable
    {
        public void Dispose()
        {
            if (!request.Completed)
            {
                abandon();
            }
        }
    }

    public static JsonElement? Get(this JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static int IntOr(this JsonElement element, string name, int fallback)
    {
        if (element.Get(name) is not { } value)
        {
            return fallback;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i)
            ? i
            : throw new EmulatorApiException(400, $"'{name}' must be an integer", name);
    }

    public static bool BoolOr(this JsonElement element, string name, bool fallback)
        => element.Get(name) is { } value ? value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw new EmulatorApiException(400, $"'{name}' must be a boolean", name) : fallback;

    /// <summary>Token ids from an array, or the stand-in tokenizer's ids for a string.</summary>
    public static int[] Prompt(JsonElement? value, string name)
    {
        if (value is not { } prompt)
        {
            throw new EmulatorApiException(400, $"'{name}' is required", name);
        }

        if (prompt.ValueKind == JsonValueKind.String)
        {
            return StandInTokenizer.Encode(prompt.GetString()!);
        }

        if (prompt.ValueKind != JsonValueKind.Array || prompt.GetArrayLength() == 0)
        {
            throw new EmulatorApiException(400, $"'{name}' must be a non-empty list of token ids or a string", name);
        }

        var ids = new int[prompt.GetArrayLength()];
        var i = 0;
        foreach (var item in prompt.EnumerateArray())
        {
            ids[i++] = item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var id) && id >= 0
                ? id
                : throw new EmulatorApiException(400, string.Create(CultureInfo.InvariantCulture, $"'{name}[{i - 1}]' is not a token id"), name);
        }

        return ids;
    }

    public static string[] Stops(JsonElement sampling)
        => sampling.Get("stop") switch
        {
            null => [],
            { ValueKind: JsonValueKind.String } s => [s.GetString()!],
            { ValueKind: JsonValueKind.Array } a => [.. a.EnumerateArray().Select(x => x.GetString() ?? string.Empty)],
            _ => throw new EmulatorApiException(400, "'stop' must be a string or a list of strings", "stop"),
        };

    public static int[] StopTokenIds(JsonElement sampling)
        => sampling.Get("stop_token_ids") is { ValueKind: JsonValueKind.Array } a ? [.. a.EnumerateArray().Select(x => x.GetInt32())] : [];

    public static ulong Seed(JsonElement sampling, string name)
        => sampling.Get(name) is { } seed ? seed.TryGetInt64(out var s) ? unchecked((ulong)s) : throw new EmulatorApiException(400, $"'{name}' must be an integer", name) : 0;

    public static JsonArray Ids(IEnumerable<int> ids) => new([.. ids.Select(i => (JsonNode)i)]);

    public static void StartEvents(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
    }

    public static async Task WriteEventAsync(HttpResponse response, string data, CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: " + data + "\n\n", cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public static Task WriteJsonAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    /// <summary>Merges consecutive step emissions into one (what a slow reader or a stream interval gets).</summary>
    public static StepEmission Merge(IReadOnlyList<StepEmission> emissions)
    {
        if (emissions.Count == 1)
        {
            return emissions[0];
        }

        var last = emissions[^1];
        return new StepEmission(
            [.. emissions.SelectMany(e => e.TokenIds)],
            string.Concat(emissions.Select(e => e.Text)),
            emissions.Sum(e => e.Accepted),
            emissions.Any(e => e.Verified),
            last.Finish,
            last.Matched);
    }

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
