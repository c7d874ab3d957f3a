namespace Laps.Simulation.Workloads;

/// <summary>
/// A workload trace or workload spec that cannot be used: unreadable file, invalid JSON, missing or invalid field,
/// unknown profile, bad weight. The message names the file and 1-based line where there is one.
/// </summary>
public sealed class WorkloadFormatException : FormatException
{
    public WorkloadFormatException()
    {
    }

    public WorkloadFormatException(string message)
        : base(message)
    {
    }

    public WorkloadFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public WorkloadFormatException(string filePath, int? lineNumber, string problem, Exception? innerException = null)
        : base(Compose(filePath, lineNumber, problem), innerException)
    {
        FilePath = filePath;
        LineNumber = lineNumber;
    }

    /// <summary>The trace file concerned, if any.</summary>
    public string? FilePath { get; }

    /// <summary>1-based line number in <see cref="FilePath"/>, if the problem is on one line.</summary>
    public int? LineNumber { get; }

    private static string Compose(string filePath, int? lineNumber, string problem)
        => lineNumber is int line
            ? FormattableString.Invariant($"{filePath}, line {line}: {problem}")
            : FormattableString.Invariant($"{filePath}: {problem}");
}
