namespace Laps.Simulation.Arrivals;

/// <summary>
/// An arrival spec or arrival trace that cannot be used (unknown spec, bad CV, missing or malformed CSV). The message
/// names the file and 1-based line where there is one.
/// </summary>
public sealed class ArrivalFormatException : FormatException
{
    public ArrivalFormatException()
    {
    }

    public ArrivalFormatException(string message)
        : base(message)
    {
    }

    public ArrivalFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ArrivalFormatException(string filePath, int? lineNumber, string problem, Exception? innerException = null)
        : base(lineNumber is int line
                ? FormattableString.Invariant($"{filePath}, line {line}: {problem}")
                : FormattableString.Invariant($"{filePath}: {problem}"),
            innerException)
    {
        FilePath = filePath;
        LineNumber = lineNumber;
    }

    public string? FilePath { get; }

    public int? LineNumber { get; }
}
