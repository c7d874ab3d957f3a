using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;
using Laps.Worker.Sim;

namespace Laps.Worker.Tests;

/// <summary>Hand-written traces and engines over them; nothing is read from disk.</summary>
internal static class Builders
{
    public static readonly int[] TracedPrompt = [101, 102, 103];

    public static readonly int[] OtherTracedPrompt = [201, 202, 203, 204, 205];

    /// <summary>Two upstream-format entries (the first with its generated tokens) and a compact one without prompt ids.</summary>
    public const string Trace =
        """
        {"id": "a", "prompt_token_ids": [101, 102, 103], "generated_token_ids": [11, 12, 13, 14, 15, 16, 17], "acc_eagle": {"acc_len": [3, 2, 1, 5, 1, 1, 4]}, "acc_ngram": {"acc_len": [1, 1, 1, 1, 1, 1, 1]}}
        {"id": "b", "prompt_token_ids": [201, 202, 203, 204, 205], "acc_eagle": {"acc_len": [1, 1, 2, 1, 1, 1]}}
        {"id": "c", "dataset": "x", "prompt_tokens": 7, "acc_len_eagle": [2, 1]}
        """;

    public static IReadOnlyList<WorkloadEntry> TraceEntries()
        => TraceReader.Read(new StringReader(Trace), "test.jsonl");

    public static SimWorkerOptions Options(int k = 2, long kvCapacity = 100_000, int maxBatch = 8, int maxSteps = 8, ProposerKind proposer = ProposerKind.Eagle)
        => new()
        {
            WorkerId = "test-worker",
            K = k,
            KvCapacityTokens = kvCapacity,
            MaxBatch = maxBatch,
            MaxStepsPerCall = maxSteps,
            Proposer = proposer,
            TimeScale = 1000,
        };

    public static SimEngine Engine(SimWorkerOptions? options = null)
    {
        options ??= Options();
        return new SimEngine(options, new AcceptanceSource(TraceEntries(), WorkloadProfiles.Chat, options.Proposer));
    }

    public static int[] Prompt(int length, int first = 1000) => Enumerable.Range(first, length).ToArray();

    public static SequenceResult Single(this StepOutcome outcome) => Assert.Single(outcome.Outputs);

    /// <summary>Steps one sequence to its end, one step per call, collecting every output.</summary>
    public static List<SequenceResult> RunToEnd(SimEngine engine, SequenceRequest first, int maxCalls = 100_000)
    {
        var results = new List<SequenceResult> { engine.Step([first], 1).Single() };
        while (!results[^1].Finished && results.Count < maxCalls)
        {
            results.Add(engine.Step([SequenceRequest.Held(first.SequenceId, first.MaxTokens)], 1).Single());
        }

        return results;
    }
}
