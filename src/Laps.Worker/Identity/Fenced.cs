namespace Laps.Worker.Identity;

/// <summary>A call from <paramref name="By"/> superseded <paramref name="Superseded"/>: the worker dropped its sequences.</summary>
public sealed record Fenced(Incarnation Superseded, Incarnation By, IReadOnlyList<string> SequenceIds);
