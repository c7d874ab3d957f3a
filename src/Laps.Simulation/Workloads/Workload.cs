using System.Collections.Concurrent;
using Laps.Scheduling.Estimation;

namespace Laps.Simulation.Workloads;

/// <summary>
/// A loaded workload: one or more weighted sources (trace files, synthetic profiles) that requests are drawn from.
/// Immutable and safe to share between parallel runs; every draw comes from the <see cref="Random"/> passed in.
/// </summary>
public sealed class Workload
{
    /// <summary>Size of the deterministic sample behind <see cref="LengthLogSigma"/> for mixes.</summary>
    public const int MixSigmaSampleSize = 4000;

    private const int MixSigmaSeed = 0x5eed;

    private readonly double[] _cumulativeWeights;
    private readonly ConcurrentDictionary<ProposerKind, double> _logSigma = new();

    public Workload(string name, IReadOnlyList<WorkloadSource> sources)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0)
        {
            throw new ArgumentException("a workload needs at least one source", nameof(sources));
        }

        Name = name;
        Sources = sources;
        _cumulativeWeights = new double[sources.Count];
        var total = 0.0;
        for (var i = 0; i < sources.Count; i++)
        {
            total += sources[i].Weight;
            _cumulativeWeights[i] = total;
        }
    }

    /// <summary>The workload spec as given (e.g. <c>sharegpt</c> or <c>a.jsonl:3,gsm8k</c>).</summary>
    public string Name { get; }

    public IReadOnlyList<WorkloadSource> Sources { get; }

    /// <summary>A workload of one built-in profile.</summary>
    public static Workload FromProfile(WorkloadProfile profile, SyntheticAcceptanceOptions? options = null)
        => new(profile.Name, [new ProfileWorkloadSource(profile, 1, options)]);

    /// <summary>A workload replaying the given entries (e.g. built in code for tests).</summary>
    public static Workload FromEntries(string name, IReadOnlyList<WorkloadEntry> entries)
        => new(name, [new TraceWorkloadSource(name, entries)]);

    /// <summary>
    /// <paramref name="n"/> requests. One trace source and n &lt;= its entries: a seeded shuffle, without replacement.
    /// Otherwise with replacement: for a mix, each request picks a source by weight, then an entry (traces) or a freshly
    /// generated request (profiles, id <c>&lt;profile&gt;-&lt;i&gt;</c>). Entries drawn twice are the same object, with the
    /// same Id: give requests their own ids downstream.
    /// </summary>
    public IReadOnlyList<WorkloadEntry> Sample(int n, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentNullException.ThrowIfNull(random);
        var result = new WorkloadEntry[n];
        if (Sources.Count == 1 && Sources[0] is TraceWorkloadSource trace && n <= trace.Entries.Count)
        {
            // Partial Fisher–Yates over the indices: the first n of a uniform random permutation.
            var indices = new int[trace.Entries.Count];
            for (var i = 0; i < indices.Length; i++)
            {
                indices[i] = i;
            }

            for (var i = 0; i < n; i++)
            {
                var j = i + random.Next(indices.Length - i);
                (indices[i], indices[j]) = (indices[j], indices[i]);
                result[i] = trace.Entries[indices[i]];
            }

            return result;
        }

        for (var i = 0; i < n; i++)
        {
            result[i] = PickSource(random).Draw(random, i);
        }

        return result;
    }

    /// <summary>
    /// Standard deviation of ln(output length) under <paramref name="proposer"/> (the σ_L of the noisy length predictor):
    /// over the entries for one trace, the profile's σ for one profile, and over a deterministic sample of
    /// <see cref="MixSigmaSampleSize"/> draws for a mix.
    /// </summary>
    public double LengthLogSigma(ProposerKind proposer)
        => _logSigma.GetOrAdd(proposer, ComputeLengthLogSigma);

    public override string ToString() => Name;

    internal static double LogSigma(IEnumerable<int> lengths)
    {
        var count = 0;
        var mean = 0.0;
        var m2 = 0.0;
        foreach (var length in lengths)
        {
            var x = Math.Log(Math.Max(1, length));
            count++;
            var delta = x - mean;
            mean += delta / count;
            m2 += delta * (x - mean);
        }

        return count == 0 ? 0 : Math.Sqrt(m2 / count);
    }

    private double ComputeLengthLogSigma(ProposerKind proposer)
    {
        if (Sources.Count == 1)
        {
            return Sources[0].LengthLogSigma(proposer);
        }

        var random = new Random(MixSigmaSeed);
        var lengths = new int[MixSigmaSampleSize];
        for (var i = 0; i < lengths.Length; i++)
        {
            lengths[i] = PickSource(random).DrawOutputLength(proposer, random);
        }

        return LogSigma(lengths);
    }

    private WorkloadSource PickSource(Random random)
    {
        if (Sources.Count == 1)
        {
            return Sources[0];
        }

        var u = random.NextDouble() * _cumulativeWeights[^1];
        var index = Array.BinarySearch(_cumulativeWeights, u);
        index = index >= 0 ? index + 1 : ~index; // first cumulative weight strictly above u
        return Sources[Math.Min(index, Sources.Count - 1)];
    }
}
