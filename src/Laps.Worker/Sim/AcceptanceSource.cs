using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;

namespace Laps.Worker.Sim;

/// <summary>
/// Decides each new sequence's <see cref="SequenceScript"/>: the trace entry whose prompt token ids equal the
/// sequence's prompt, replayed for the configured proposer; otherwise a synthetic trace from a built-in profile, seeded
/// by the sequence's seed and a hash of its prompt, so that the same request replays identically on any worker.
/// Immutable after construction; thread-safe.
/// </summary>
public sealed class AcceptanceSource
{
    private readonly Dictionary<int[], WorkloadEntry> _byPrompt;

    public AcceptanceSource(IEnumerable<WorkloadEntry> traceEntries, WorkloadProfile fallback, ProposerKind proposer)
    {
        ArgumentNullException.ThrowIfNull(traceEntries);
        ArgumentNullException.ThrowIfNull(fallback);
        fallback.Validate();
        Fallback = fallback;
        Proposer = proposer;
        _byPrompt = new Dictionary<int[], WorkloadEntry>(PromptComparer.Instance);
        foreach (var entry in traceEntries)
        {
            // Entries without prompt ids (some compact traces) can never match a prompt; the first of equal prompts wins.
            if (entry.PromptTokenIds is { Length: > 0 } prompt)
            {
                _byPrompt.TryAdd(prompt, entry);
            }
        }
    }

    public WorkloadProfile Fallback { get; }

    public ProposerKind Proposer { get; }

    /// <summary>Trace entries a prompt can match.</summary>
    public int TraceEntries => _byPrompt.Count;

    /// <summary>
    /// Builds the source a workload spec describes: its trace files' entries, and its first profile (else
    /// <paramref name="fallbackProfile"/>) for unmatched prompts. Throws <see cref="WorkloadFormatException"/> for a bad
    /// spec or trace, and when traces were named but none of their entries carries prompt_token_ids.
    /// </summary>
    public static AcceptanceSource Load(string workloadSpec, string fallbackProfile, ProposerKind proposer)
    {
        var spec = WorkloadSpec.Parse(workloadSpec);
        var entries = new List<WorkloadEntry>();
        WorkloadProfile? profile = null;
        foreach (var item in spec.Items)
        {
            if (item.Kind == WorkloadItemKind.Profile)
            {
                profile ??= WorkloadProfiles.Get(item.ProfileName!);
            }
            else
            {
                entries.AddRange(WorkloadCatalog.ReadTrace(item.FullPath!));
            }
        }

        var source = new AcceptanceSource(entries, profile ?? WorkloadProfiles.Get(fallbackProfile), proposer);
        if (entries.Count > 0 && source.TraceEntries == 0)
        {
            throw new WorkloadFormatException(
                $"workload '{spec.Text}': no trace entry carries prompt_token_ids, so no prompt could ever match one");
        }

        return source;
    }

    /// <summary>The script of a sequence first seen with this prompt and seed.</summary>
    public SequenceScript ScriptFor(int[] promptTokenIds, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        var key = SimVocabulary.SequenceKey(seed, promptTokenIds);
        if (_byPrompt.TryGetValue(promptTokenIds, out var entry))
        {
            return new SequenceScript(entry.AccLen(Proposer), key, entry.GeneratedTokenIds, $"trace:{entry.Source}/{entry.Id}");
        }

        // The simulator's own generator, so a synthetic sequence here is distributed like one in `laps sim`.
        var random = new Random((int)(key ^ (key >> 32)));
        var synthetic = Fallback.Generate(random, "sim");
        return new SequenceScript(synthetic.AccLen(Proposer), key, null, "profile:" + Fallback.Name);
    }

    private sealed class PromptComparer : IEqualityComparer<int[]>
    {
        public static readonly PromptComparer Instance = new();

        public bool Equals(int[]? x, int[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(int[] obj)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(obj.AsSpan()));
            return hash.ToHashCode();
        }
    }
}
