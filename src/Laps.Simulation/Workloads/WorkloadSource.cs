using Laps.Scheduling.Estimation;

namespace Laps.Simulation.Workloads;

/// <summary>One weighted source of requests inside a <see cref="Workload"/>: a loaded trace or a synthetic profile.</summary>
public abstract class WorkloadSource
{
    protected WorkloadSource(string name, double weight)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!(weight > 0) || !double.IsFinite(weight))
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "weight must be finite and > 0");
        }

        Name = name;
        Weight = weight;
    }

    /// <summary>The spec item's name: the profile name, or the path as written.</summary>
    public string Name { get; }

    public double Weight { get; }

    /// <summary>One request, drawn with replacement. <paramref name="requestIndex"/> names synthetic requests.</summary>
    public abstract WorkloadEntry Draw(Random random, int requestIndex);

    /// <summary>The output length under <paramref name="proposer"/> of one request drawn like <see cref="Draw"/>, but cheaper.</summary>
    public abstract int DrawOutputLength(ProposerKind proposer, Random random);

    /// <summary>Standard deviation of ln(output length) under <paramref name="proposer"/>.</summary>
    public abstract double LengthLogSigma(ProposerKind proposer);
}

/// <summary>Requests replayed from a trace file's entries.</summary>
public sealed class TraceWorkloadSource : WorkloadSource
{
    public TraceWorkloadSource(string name, IReadOnlyList<WorkloadEntry> entries, double weight = 1, string? fullPath = null)
        : base(name, weight)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            throw new ArgumentException("a trace source needs at least one entry", nameof(entries));
        }

        Entries = entries;
        FullPath = fullPath;
    }

    public IReadOnlyList<WorkloadEntry> Entries { get; }

    /// <summary>The file the entries came from, if any.</summary>
    public string? FullPath { get; }

    public override WorkloadEntry Draw(Random random, int requestIndex) => Entries[random.Next(Entries.Count)];

    public override int DrawOutputLength(ProposerKind proposer, Random random) => Entries[random.Next(Entries.Count)].AccLen(proposer).Length;

    /// <summary>Population standard deviation of ln(len(accLen)) over the entries.</summary>
    public override double LengthLogSigma(ProposerKind proposer)
        => Workload.LogSigma(Entries.Select(e => e.AccLen(proposer).Length));
}

/// <summary>Requests generated from a built-in <see cref="WorkloadProfile"/>.</summary>
public sealed class ProfileWorkloadSource : WorkloadSource
{
    public ProfileWorkloadSource(WorkloadProfile profile, double weight = 1, SyntheticAcceptanceOptions? options = null)
        : base(profile?.Name ?? throw new ArgumentNullException(nameof(profile)), weight)
    {
        profile.Validate();
        Profile = profile;
        Options = options ?? SyntheticAcceptanceOptions.Default;
    }

    public WorkloadProfile Profile { get; }

    public SyntheticAcceptanceOptions Options { get; }

    /// <summary>A fresh synthetic request with id <c>&lt;profile&gt;-&lt;requestIndex&gt;</c>.</summary>
    public override WorkloadEntry Draw(Random random, int requestIndex)
        => Profile.Generate(random, Profile.Name + "-" + requestIndex.ToString(System.Globalization.CultureInfo.InvariantCulture), Options);

    public override int DrawOutputLength(ProposerKind proposer, Random random) => Profile.SampleOutputTokens(random);

    /// <summary>The profile's output log-normal σ (the cap at <see cref="WorkloadProfile.MaxOutputTokens"/> ignored).</summary>
    public override double LengthLogSigma(ProposerKind proposer) => Profile.OutputTokens.Sigma;
}
