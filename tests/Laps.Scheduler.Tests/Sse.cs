namespace Laps.Scheduler.Tests;

/// <summary>Reads a server-sent-events body into its <c>data:</c> payloads.</summary>
public static class Sse
{
    public static async Task<List<string>> ReadAllAsync(HttpResponseMessage response)
    {
        using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);
        var events = new List<string>();
        while (await reader.ReadLineAsync().WaitAsync(EventLog<int>.Timeout) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add(line["data: ".Length..]);
            }
        }

        return events;
    }

    /// <summary>The next <c>data:</c> payload, or null at the end of the stream.</summary>
    public static async Task<string?> NextAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync().WaitAsync(EventLog<int>.Timeout) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return line["data: ".Length..];
            }
        }

        return null;
    }
}
