using System.Globalization;

namespace Laps.Simulation.Workloads;

/// <summary>What one item of a workload spec refers to.</summary>
public enum WorkloadItemKind
{
    /// <summary>A built-in synthetic profile (<see cref="WorkloadProfiles"/>).</summary>
    Profile,

    /// <summary>A JSONL acceptance trace file (<see cref="TraceReader"/>).</summary>
    TraceFile,
}

/// <summary>One item of a workload spec: a profile or a trace file, with its mixing weight.</summary>
/// <param name="Reference">The item as written, without its weight.</param>
/// <param name="Kind">Profile or trace file.</param>
/// <param name="Weight">Relative share of requests drawn from this item (&gt; 0; 1 unless given).</param>
/// <param name="ProfileName">The profile's canonical name for <see cref="WorkloadItemKind.Profile"/>.</param>
/// <param name="FullPath">The absolute path for <see cref="WorkloadItemKind.TraceFile"/>.</param>
public sealed record WorkloadSpecItem(string Reference, WorkloadItemKind Kind, double Weight, string? ProfileName, string? FullPath);

/// <summary>
/// A parsed <c>--workload</c> value: a built-in profile name, a trace file path, or a comma-separated list of them whose
/// requests are mixed; <c>item:weight</c> weights one item (weights &gt; 0, default 1).
/// </summary>
/// <remarks>
/// The weight is the text after the item's last ':' when that text is a number, so paths may contain ':' elsewhere.
/// A name is a profile first (case-insensitive) and a file otherwise: write <c>./chat</c> for a file named "chat".
/// Files must exist when the spec is parsed; they are read by <see cref="WorkloadCatalog.Load"/>.
/// </remarks>
public sealed record WorkloadSpec(string Text, IReadOnlyList<WorkloadSpecItem> Items)
{
    /// <summary>Parses a spec; throws <see cref="WorkloadFormatException"/> naming the bad item.</summary>
    public static WorkloadSpec Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new WorkloadFormatException(
                $"workload spec is empty: give a built-in profile ({string.Join(", ", WorkloadProfiles.Names)}), a trace file, or a comma-separated list of them");
        }

        var items = new List<WorkloadSpecItem>();
        foreach (var rawItem in spec.Split(','))
        {
            var item = rawItem.Trim();
            if (item.Length == 0)
            {
                throw new WorkloadFormatException($"workload spec '{spec}' has an empty item (check the commas)");
            }

            items.Add(ParseItem(item));
        }

        return new WorkloadSpec(spec.Trim(), items);
    }

    /// <summary>True when every item is a trace file and there is exactly one.</summary>
    public bool IsSingleTrace => Items.Count == 1 && Items[0].Kind == WorkloadItemKind.TraceFile;

    public override string ToString() => Text;

    private static WorkloadSpecItem ParseItem(string item)
    {
        var reference = item;
        var weight = 1.0;
        var colon = item.LastIndexOf(':');
        if (colon >= 0)
        {
            var suffix = item[(colon + 1)..].Trim();
            if (double.TryParse(suffix, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            {
                reference = item[..colon].Trim();
                if (!(parsed > 0) || !double.IsFinite(parsed))
                {
                    throw new WorkloadFormatException($"workload item '{item}': weight must be a positive number, got '{suffix}'");
                }

                if (reference.Length == 0)
                {
                    throw new WorkloadFormatException($"workload item '{item}': a weight needs a profile or file before the ':'");
                }

                weight = parsed;
            }
        }

        if (WorkloadProfiles.TryGet(reference, out var profile))
        {
            return new WorkloadSpecItem(reference, WorkloadItemKind.Profile, weight, profile.Name, null);
        }

        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(reference);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new WorkloadFormatException($"workload item '{item}' is not a valid file path: {ex.Message}", ex);
        }

        if (File.Exists(fullPath))
        {
            return new WorkloadSpecItem(reference, WorkloadItemKind.TraceFile, weight, null, fullPath);
        }

        var hint = Directory.Exists(fullPath) ? $" ('{reference}' is a directory)" : string.Empty;
        throw new WorkloadFormatException(
            $"workload item '{item}' is neither a built-in profile nor an existing trace file{hint}; known profiles: {string.Join(", ", WorkloadProfiles.Names)}");
    }
}
