using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Laps.Simulation.Experiments;

namespace Laps.Cli.Bench;

/// <summary>
/// Sends a <see cref="BenchPlan"/> open-loop to an OpenAI-compatible <c>/v1/completions</c> endpoint, streamed, and
/// measures each request's latency (to the end of the stream) and time to first token (to the first chunk with
/// text). A request waits for a slot when <c>concurrencyLimit</c> are in flight; its latency counts from its
/// planned send time, so a saturated client does not hide queueing.
/// </summary>
internal sealed class LoadGenerator(HttpClient http, TimeProvider time)
{
    public async Task<BenchReport> RunAsync(Uri target, string model, BenchPlan plan, int concurrencyLimit, TimeSpan requestTimeout, CancellationToken cancellationToken)
    {
        var endpoint = new Uri(target, "v1/completions");
        using var slots = new SemaphoreSlim(concurrencyLimit);
        var start = time.GetTimestamp();
        var outcomes = await Task.WhenAll(plan.Requests.Select(r => SendAsync(r))).ConfigureAwait(false);
        var duration = time.GetElapsedTime(start).TotalSeconds;

        var ok = outcomes.Where(o => o.Error is null).ToList();
        var latencies = ok.Select(o => o.Latency).ToList();
        return new BenchReport
        {
            Target = target.ToString(),
            Requests = plan.Requests.Count,
            Completed = ok.Count,
            Errors = outcomes.Length - ok.Count,
            DurationSeconds = duration,
            MeanLatencySeconds = latencies.Count == 0 ? null : latencies.Average(),
            P50LatencySeconds = latencies.Count == 0 ? null : Statistics.Quantile(latencies, 0.50),
            P99LatencySeconds = latencies.Count == 0 ? null : Statistics.Quantile(latencies, 0.99),
            MeanTtftSeconds = ok.Count == 0 ? null : ok.Average(o => o.Ttft),
            TokensPerSecond = duration > 0 ? ok.Sum(o => (double)o.Tokens) / duration : 0,
            ThroughputAt90thCompletion = ThroughputAt90th(ok.Select(o => o.End)),
            ErrorKinds = outcomes.Where(o => o.Error is not null).GroupBy(o => o.Error!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
        };

        async Task<Outcome> SendAsync(BenchRequest request)
        {
            var due = TimeSpan.FromSeconds(request.SendAt) - time.GetElapsedTime(start);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, time, cancellationToken).ConfigureAwait(false);
            }

            var planned = time.GetElapsedTime(start).TotalSeconds;
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(requestTimeout);
            try
            {
                return await StreamAsync(endpoint, model, request, start, planned, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Outcome.Failed("timeout");
            }
            catch (HttpRequestException ex)
            {
                return Outcome.Failed(ex.StatusCode is { } code ? $"http {(int)code}" : "connection");
            }
            catch (Exception ex) when (ex is JsonException or IOException or InvalidDataException)
            {
                return Outcome.Failed("bad response");
            }
            finally
            {
                slots.Release();
            }
        }
    }

    private async Task<Outcome> StreamAsync(Uri endpoint, string model, BenchRequest request, long start, double planned, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["prompt"] = new JsonArray([.. request.PromptTokenIds.Select(id => (JsonNode)id)]),
            ["max_tokens"] = request.MaxTokens,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        using var message = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return Outcome.Failed($"http {(int)response.StatusCode}");
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        double? ttft = null;
        int chunksWithText = 0;
        int? usageTokens = null;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line.AsSpan(5).Trim();
            if (data.SequenceEqual("[DONE]"))
            {
                var end = time.GetElapsedTime(start).TotalSeconds;
                return new Outcome(end - planned, (ttft ?? end) - planned, usageTokens ?? chunksWithText, null, end);
            }

            using var chunk = JsonDocument.Parse(data.ToString());
            var root = chunk.RootElement;
            if (root.TryGetProperty("error", out _))
            {
                return Outcome.Failed("stream error");
            }

            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                && usage.TryGetProperty("completion_tokens", out var completion))
            {
                usageTokens = completion.GetInt32();
            }

            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 })
            {
                chunksWithText++;
                ttft ??= time.GetElapsedTime(start).TotalSeconds;
            }
        }

        return Outcome.Failed("stream ended without [DONE]");
    }

    /// <summary>
    /// Completions per second up to the 90th percentile completion, as the simulator measures saturation: sent all at
    /// once, the drain of the last long requests at a shrinking batch is not capacity.
    /// </summary>
    internal static double? ThroughputAt90th(IEnumerable<double> endTimes)
    {
        var ends = endTimes.Order().ToArray();
        if (ends.Length == 0)
        {
            return null;
        }

        var cut = Math.Max(0, (int)Math.Ceiling(0.9 * ends.Length) - 1);
        return ends[cut] > 0 ? (cut + 1) / ends[cut] : null;
    }

    /// <param name="End">When the stream ended, in seconds since the run started.</param>
    private sealed record Outcome(double Latency, double Ttft, int Tokens, string? Error, double End = 0)
    {
        public static Outcome Failed(string error) => new(0, 0, 0, error);
    }
}
