using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Tests.Workloads;

public class WorkloadTests
{
    private static WorkloadEntry[] Entries(string source, int count, Func<int, int> length)
        => Enumerable.Range(0, count)
            .Select(i => new WorkloadEntry(source, source + "-" + i, 10 + i, Enumerable.Repeat(1, length(i)).ToArray(), Enumerable.Repeat(1, length(i)).ToArray()))
            .ToArray();

    [Fact]
    public void One_trace_with_enough_entries_is_sampled_without_replacement_and_reproducibly()
    {
        var workload = Workload.FromEntries("t", Entries("t", 30, i => i + 1));

        var a = workload.Sample(30, new Random(1));
        var b = workload.Sample(30, new Random(1));
        var few = workload.Sample(10, new Random(2));

        Assert.Equal(30, a.Select(e => e.Id).Distinct().Count());
        Assert.Equal(a.Select(e => e.Id), b.Select(e => e.Id));
        Assert.NotEqual(Enumerable.Range(0, 30).Select(i => "t-" + i), a.Select(e => e.Id));
        Assert.Equal(10, few.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public void More_requests_than_entries_are_drawn_with_replacement()
    {
        var workload = Workload.FromEntries("t", Entries("t", 5, _ => 3));

        var sample = workload.Sample(100, new Random(3));

        Assert.Equal(100, sample.Count);
        Assert.Equal(5, sample.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public void A_mix_draws_sources_in_proportion_to_their_weights()
    {
        var workload = new Workload("a:3,b", [
            new TraceWorkloadSource("a", Entries("a", 4, _ => 2), weight: 3),
            new TraceWorkloadSource("b", Entries("b", 4, _ => 2), weight: 1),
        ]);

        var sample = workload.Sample(4000, new Random(4));
        var shareA = sample.Count(e => e.Source == "a") / 4000.0;

        Assert.InRange(shareA, 0.72, 0.78);
    }

    [Fact]
    public void A_mix_of_a_trace_and_a_profile_generates_synthetic_requests_for_the_profile()
    {
        var workload = new Workload("t,gsm8k", [
            new TraceWorkloadSource("t", Entries("t", 4, _ => 2)),
            new ProfileWorkloadSource(WorkloadProfiles.Gsm8k),
        ]);

        var sample = workload.Sample(200, new Random(5));

        Assert.Contains(sample, e => e.Source == "t");
        var synthetic = sample.Where(e => e.Source == "gsm8k").ToArray();
        Assert.NotEmpty(synthetic);
        Assert.All(synthetic, e => Assert.StartsWith("gsm8k-", e.Id, StringComparison.Ordinal));
    }

    [Fact]
    public void Length_log_sigma_is_the_spread_of_log_lengths_of_the_chosen_proposer()
    {
        var entries = new[]
        {
            new WorkloadEntry("t", "a", 1, [1, 1], [1, 1, 1, 1, 1, 1, 1, 1]),
            new WorkloadEntry("t", "b", 1, [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]),
        };
        var workload = Workload.FromEntries("t", entries);

        Assert.Equal(Math.Log(2), workload.LengthLogSigma(ProposerKind.Eagle), 10);
        Assert.Equal(0, workload.LengthLogSigma(ProposerKind.Ngram), 10);
        Assert.Equal(1.03, Workload.FromProfile(WorkloadProfiles.ShareGpt).LengthLogSigma(ProposerKind.Eagle));
    }

    [Fact]
    public void Length_log_sigma_of_a_mix_is_deterministic_and_reflects_both_parts()
    {
        var workload = new Workload("short,long", [
            new TraceWorkloadSource("short", Entries("short", 3, _ => 10)),
            new TraceWorkloadSource("long", Entries("long", 3, _ => 1000)),
        ]);

        var sigma = workload.LengthLogSigma(ProposerKind.Eagle);

        // Half the draws at ln 10, half at ln 1000: σ ≈ (ln 1000 − ln 10) / 2 = ln 10 ≈ 2.30.
        Assert.InRange(sigma, 2.25, 2.31);
        Assert.Equal(sigma, new Workload("short,long", workload.Sources).LengthLogSigma(ProposerKind.Eagle));
    }

    [Fact]
    public void The_catalog_loads_a_spec_of_files_and_profiles_and_caches_traces_by_path()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("mine.jsonl",
            """
            {"id":"x-1","dataset":"x","prompt_tokens":3,"acc_len_eagle":[2,1,1],"acc_len_ngram":[1,1,1]}
            {"id":"x-2","dataset":"x","prompt_tokens":4,"acc_len_eagle":[1,1],"acc_len_ngram":[1,1]}
            """);

        var workload = WorkloadCatalog.Load(path + ":2,cnn");
        var again = WorkloadCatalog.ReadTrace(path);

        Assert.Equal(path + ":2,cnn", workload.Name);
        var trace = Assert.IsType<TraceWorkloadSource>(workload.Sources[0]);
        Assert.Equal(2, trace.Entries.Count);
        Assert.Equal(2, trace.Weight);
        Assert.Same(trace.Entries, again);
        Assert.IsType<ProfileWorkloadSource>(workload.Sources[1]);
    }

    [Fact]
    public void The_catalog_reports_a_malformed_trace_with_file_and_line()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("broken.jsonl", "{\"id\":\"a\",\"prompt_tokens\":1,\"acc_len_eagle\":[1]}\nnot json\n");

        var ex = Assert.Throws<WorkloadFormatException>(() => WorkloadCatalog.Load(path));

        Assert.Contains("broken.jsonl, line 2: invalid JSON", ex.Message, StringComparison.Ordinal);
    }
}
