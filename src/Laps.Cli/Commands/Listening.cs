using System.Globalization;

namespace Laps.Cli.Commands;

/// <summary>Starting a server role: a port it cannot bind is the user's <c>--port</c> mistake, Ctrl+C before it listens a clean exit.</summary>
internal static class Listening
{
    /// <summary>Runs <paramref name="start"/>; false when cancelled before the server listened. A failed bind names <paramref name="option"/>.</summary>
    public static async Task<bool> StartAsync(Func<Task> start, string host, int port, CancellationToken cancellationToken, string option = "--port")
    {
        try
        {
            await start().ConfigureAwait(false);
            return true;
        }
        catch (IOException e)
        {
            // Kestrel could not bind (address in use, no permission).
            throw new UsageException($"{option}: cannot listen on {host}:{port.ToString(CultureInfo.InvariantCulture)}: {e.Message}", e);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
