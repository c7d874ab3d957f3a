namespace Laps.Simulation.Workloads;

/// <summary>
/// Loads workload specs (<see cref="WorkloadSpec"/>) into <see cref="Workload"/>s. Trace files are read once and
/// cached by full path (re-read if the file's size or modification time changes). Thread-safe.
/// </summary>
public static class WorkloadCatalog
{
    private static readonly Lock CacheLock = new();
    private static readonly Dictionary<string, CachedTrace> Cache = new(StringComparer.Ordinal);

    /// <summary>
    /// Parses and loads a spec. Throws <see cref="WorkloadFormatException"/> for a bad spec, an unknown profile, a
    /// missing file or a malformed trace (the message names file and line).
    /// </summary>
    public static Workload Load(string spec) => Load(WorkloadSpec.Parse(spec));

    public static Workload Load(WorkloadSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var sources = new List<WorkloadSource>(spec.Items.Count);
        foreach (var item in spec.Items)
        {
            sources.Add(item.Kind switch
            {
                WorkloadItemKind.Profile => new ProfileWorkloadSource(WorkloadProfiles.Get(item.ProfileName!), item.Weight),
                WorkloadItemKind.TraceFile => new TraceWorkloadSource(item.Reference, ReadTrace(item.FullPath!), item.Weight, item.FullPath),
                _ => throw new WorkloadFormatException($"workload item '{item.Reference}' has an unknown kind"),
            });
        }

        return new Workload(spec.Text, sources);
    }

    /// <summary>The entries of a trace file, from the cache when the file has not changed.</summary>
    public static IReadOnlyList<WorkloadEntry> ReadTrace(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = Path.GetFullPath(path);
        var info = new FileInfo(fullPath);
        if (!info.Exists)
        {
            throw new WorkloadFormatException(fullPath, null, "workload trace file not found");
        }

        var stamp = (info.Length, info.LastWriteTimeUtc);
        lock (CacheLock)
        {
            if (Cache.TryGetValue(fullPath, out var cached) && cached.Stamp == stamp)
            {
                return cached.Entries;
            }
        }

        var entries = TraceReader.ReadFile(fullPath);
        lock (CacheLock)
        {
            Cache[fullPath] = new CachedTrace(stamp, entries);
        }

        return entries;
    }

    /// <summary>Forgets every cached trace.</summary>
    public static void ClearCache()
    {
        lock (CacheLock)
        {
            Cache.Clear();
        }
    }

    private sealed record CachedTrace((long Length, DateTime LastWriteUtc) Stamp, IReadOnlyList<WorkloadEntry> Entries);
}
