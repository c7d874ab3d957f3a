using Laps.Scheduling.Estimation;
using Laps.Simulation.Arrivals;
using Laps.Simulation.Workloads;

namespace Laps.Cli.Bench;

/// <summary>One request the load generator will send: when (seconds from the start), what prompt, how long at most.</summary>
internal sealed record BenchRequest(double SendAt, int[] PromptTokenIds, int MaxTokens);

/// <summary>
/// An open-loop plan: prompts from a workload (as token ids, so sim workers replay the trace entry they come from),
/// arrival times from a rate or a trace. Deterministic for a seed.
/// </summary>
internal sealed record BenchPlan(IReadOnlyList<BenchRequest> Requests)
{
    /// <summary>Vocabulary size for prompts of synthetic profiles, which carry no token ids (Llama-3's is 128k).</summary>
    private const int SyntheticVocabulary = 32_000;

    /// <param name="maxTokens">
    /// The max_tokens every request sends; null: each entry's own output length. A scheduler caps its length prediction
    /// at max_tokens, so the entry's length hands it the truth as an upper bound; a fixed limit, as real clients send,
    /// does not.
    /// </param>
    public static BenchPlan Create(Workload workload, IArrivalProcess arrivals, double ratePerSecond, int requests, int seed, int? maxTokens = null)
    {
        var random = new Random(seed);
        var entries = workload.Sample(requests, random);
        var times = arrivals.Generate(requests, ratePerSecond, new Random(unchecked((seed * 7919) + 104729)));
        var plan = new BenchRequest[requests];
        for (var i = 0; i < requests; i++)
        {
            var e = entries[i];
            plan[i] = new BenchRequest(times[i], e.PromptTokenIds ?? SyntheticPrompt(e.PromptTokens, random), maxTokens ?? Math.Max(1, e.OutputTokens(ProposerKind.Eagle)));
        }

        return new BenchPlan(plan);
    }

    private static int[] SyntheticPrompt(int length, Random random)
    {
        var ids = new int[Math.Max(1, length)];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = random.Next(SyntheticVocabulary);
        }

        return ids;
    }
}
