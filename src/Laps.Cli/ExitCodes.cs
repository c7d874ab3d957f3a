namespace Laps.Cli;

internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The command ran but part of its work failed (e.g. requests of a benchmark): its report is still printed.</summary>
    public const int Failed = 1;

    /// <summary>Bad options or bad input (files, values): one line on stderr, never a stack trace.</summary>
    public const int Usage = 2;

    /// <summary>Interrupted (Ctrl+C), as shells report SIGINT.</summary>
    public const int Cancelled = 130;
}
