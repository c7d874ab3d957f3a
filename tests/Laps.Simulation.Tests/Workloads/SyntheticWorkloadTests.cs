using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Tests.Workloads;

public class SyntheticWorkloadTests
{
    [Fact]
    public void The_same_seed_gives_the_same_requests()
    {
        var a = Workload.FromProfile(WorkloadProfiles.Gsm8k).Sample(50, new Random(7));
        var b = Workload.FromProfile(WorkloadProfiles.Gsm8k).Sample(50, new Random(7));
        var c = Workload.FromProfile(WorkloadProfiles.Gsm8k).Sample(50, new Random(8));

        for (var i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].PromptTokens, b[i].PromptTokens);
            Assert.Equal(a[i].AccLenEagle, b[i].AccLenEagle);
            Assert.Equal(a[i].AccLenNgram, b[i].AccLenNgram);
            Assert.Equal(a[i].Id, b[i].Id);
        }

        Assert.NotEqual(a.Select(e => e.AccLenEagle.Length), c.Select(e => e.AccLenEagle.Length));
    }

    [Fact]
    public void Generated_traces_follow_the_acc_len_convention_with_descending_runs()
    {
        var random = new Random(1);
        for (var r = 0; r < 20; r++)
        {
            var trace = SyntheticAcceptance.Generate(400, new AcceptanceProfile(0.7, 0.1), random);

            Assert.Equal(400, trace.Length);
            Assert.All(trace, v => Assert.InRange(v, 1, 16));
            for (var p = 1; p < trace.Length; p++)
            {
                if (trace[p - 1] > 1)
                {
                    Assert.Equal(trace[p - 1] - 1, trace[p]);
                }
            }
        }
    }

    [Fact]
    public void Zero_acceptance_gives_all_ones_and_full_acceptance_gives_capped_runs()
    {
        var random = new Random(2);
        var none = SyntheticAcceptance.GenerateForAlpha(100, 0, 0, random, new SyntheticAcceptanceOptions { WarmupDrop = 0 });
        var full = SyntheticAcceptance.GenerateForAlpha(32, 1, 0, random, new SyntheticAcceptanceOptions { WarmupDrop = 0 });

        Assert.All(none, v => Assert.Equal(1, v));
        Assert.Equal(16, full.Max());
        Assert.Equal(0.0, SyntheticAcceptance.EstimateAlpha(none));
    }

    [Theory]
    [InlineData("cnn")]
    [InlineData("gsm8k")]
    [InlineData("sharegpt")]
    public void Mean_estimated_acceptance_lands_near_the_profile(string name)
    {
        var profile = WorkloadProfiles.Get(name);
        var entries = Workload.FromProfile(profile).Sample(400, new Random(11));

        var eagle = entries.Average(e => SyntheticAcceptance.EstimateAlpha(e.AccLenEagle));
        var ngram = entries.Average(e => SyntheticAcceptance.EstimateAlpha(e.AccLenNgram));

        Assert.InRange(eagle, profile.Eagle.Mean - 0.04, profile.Eagle.Mean + 0.04);
        Assert.InRange(ngram, profile.Ngram.Mean - 0.05, profile.Ngram.Mean + 0.05);
    }

    [Fact]
    public void Acceptance_is_lower_during_the_first_fifth_of_the_output()
    {
        var random = new Random(5);
        double early = 0, late = 0;
        for (var r = 0; r < 200; r++)
        {
            var trace = SyntheticAcceptance.Generate(500, new AcceptanceProfile(0.65, 0.05), random);
            early += SyntheticAcceptance.EstimateAlpha(trace.AsSpan(0, 100));
            late += SyntheticAcceptance.EstimateAlpha(trace.AsSpan(100));
        }

        Assert.InRange((late - early) / 200, 0.01, 0.10);
    }

    [Fact]
    public void Request_acceptance_is_beta_distributed_with_the_profile_mean_and_spread()
    {
        var random = new Random(3);
        var profile = new AcceptanceProfile(0.63, 0.10);
        var draws = Enumerable.Range(0, 20000).Select(_ => SyntheticAcceptance.DrawRequestAlpha(profile, random)).ToArray();
        var mean = draws.Average();
        var sd = Math.Sqrt(draws.Average(x => (x - mean) * (x - mean)));

        Assert.InRange(mean, 0.62, 0.64);
        Assert.InRange(sd, 0.09, 0.11);
        Assert.All(draws, x => Assert.InRange(x, 0, 1));
    }

    [Theory]
    [InlineData("cnn")]
    [InlineData("gsm8k")]
    [InlineData("sharegpt")]
    [InlineData("instructcoder")]
    [InlineData("azure-conv")]
    [InlineData("code")]
    public void Output_lengths_follow_the_profiles_log_normal(string name)
    {
        var profile = WorkloadProfiles.Get(name);
        var random = new Random(4);
        var logs = Enumerable.Range(0, 4000).Select(_ => Math.Log(profile.SampleOutputTokens(random))).ToArray();
        var mu = logs.Average();
        var sigma = Math.Sqrt(logs.Average(x => (x - mu) * (x - mu)));

        Assert.InRange(mu, profile.OutputTokens.Mu - 0.06, profile.OutputTokens.Mu + 0.06);
        Assert.InRange(sigma, profile.OutputTokens.Sigma - 0.06, profile.OutputTokens.Sigma + 0.06);
    }

    [Fact]
    public void Mean_output_length_of_generated_requests_lands_near_the_profile()
    {
        var entries = Workload.FromProfile(WorkloadProfiles.Cnn).Sample(1000, new Random(9));

        Assert.InRange(entries.Average(e => e.OutputTokens(ProposerKind.Eagle)), 0.93 * 323, 1.07 * 323);
        Assert.All(entries, e => Assert.Equal(e.AccLenEagle.Length, e.AccLenNgram.Length));
    }

    [Fact]
    public void Output_lengths_are_capped_at_8192()
    {
        var random = new Random(6);
        var lengths = Enumerable.Range(0, 5000).Select(_ => WorkloadProfiles.Reasoning.SampleOutputTokens(random)).ToArray();

        Assert.Equal(8192, lengths.Max());
        Assert.True(lengths.Min() >= 1);
    }

    [Fact]
    public void The_catalog_holds_the_promised_profiles_each_valid_and_sourced()
    {
        string[] required = ["chat", "code", "reasoning", "sharegpt", "cnn", "gsm8k", "instructcoder", "azure-conv"];

        Assert.Subset(WorkloadProfiles.Names.ToHashSet(), required.ToHashSet());
        Assert.Equal(WorkloadProfiles.Names.Count, WorkloadProfiles.Names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (var profile in WorkloadProfiles.All)
        {
            profile.Validate();
            Assert.False(string.IsNullOrWhiteSpace(profile.Source));
            Assert.True(profile.MaxOutputTokens <= 8192);
        }

        Assert.Same(WorkloadProfiles.ShareGpt, WorkloadProfiles.Get("ShareGPT"));
    }

    [Fact]
    public void Gamma_sampler_keeps_its_mean_for_shapes_below_and_above_one()
    {
        var random = new Random(10);
        foreach (var shape in new[] { 0.0625, 0.5, 1.0, 3.0 })
        {
            var mean = Enumerable.Range(0, 40000).Average(_ => Distributions.Gamma(random, shape));
            Assert.InRange(mean, shape * 0.93, shape * 1.07);
        }
    }
}
