using System.Globalization;
using Laps.Worker.Sim;
using Laps.Worker.V1;

namespace Laps.Worker.Sampling;

/// <summary>
/// Which <see cref="SamplingParams"/> fields a worker honours, and the check that refuses the others (never silent
/// acceptance): a Step that sets a field outside the set, or a value out of its range, is INVALID_ARGUMENT naming it.
/// </summary>
public static class SamplingSupport
{
    /// <summary>Every field, by its proto name: what an engine adapter passes through.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "stop",
        "stop_token_ids", "seed", "ignore_eos", "min_tokens",
    ];

    /// <summary>
    /// What the sim engine honours: stop strings and stop token ids (matched on its output), a seed (it selects the
    /// synthetic output), and the distribution knobs, which its synthetic sampler has no distribution to apply to: any
    /// temperature, top_p, top_k and min_p give the sequence its one scripted output, as greedy decoding would. It
    /// cannot emulate penalties, ignore_eos or min_tokens, and refuses them.
    /// </summary>
    public static readonly IReadOnlyList<string> Sim = ["temperature", "top_p", "top_k", "min_p", "stop", "stop_token_ids", "seed"];

    /// <summary>The names of the fields <paramref name="sampling"/> sets (null: none).</summary>
    public static IReadOnlyList<string> SetFields(SamplingParams? sampling)
    {
        if (sampling is null)
        {
            return [];
        }

        var set = new List<string>();
        Add(sampling.HasTemperature, "temperature");
        Add(sampling.HasTopP, "top_p");
        Add(sampling.HasTopK, "top_k");
        Add(sampling.HasMinP, "min_p");
        Add(sampling.HasPresencePenalty, "presence_penalty");
        Add(sampling.HasFrequencyPenalty, "frequency_penalty");
        Add(sampling.HasRepetitionPenalty, "repetition_penalty");
        Add(sampling.Stop.Count > 0, "stop");
        Add(sampling.StopTokenIds.Count > 0, "stop_token_ids");
        Add(sampling.HasSeed, "seed");
        Add(sampling.IgnoreEos, "ignore_eos");
        Add(sampling.MinTokens != 0, "min_tokens");
        return set;

        void Add(bool isSet, string name)
        {
            if (isSet)
            {
                set.Add(name);
            }
        }
    }

    /// <summary>
    /// Throws <see cref="WorkerException"/> (INVALID_ARGUMENT) for a field outside <paramref name="honoured"/> or a value
    /// out of range, naming the sequence and the parameter.
    /// </summary>
    public static void Validate(string sequenceId, SamplingParams? sampling, IReadOnlyCollection<string> honoured, string engine)
    {
        ArgumentNullException.ThrowIfNull(honoured);
        if (sampling is null)
        {
            return;
        }

        foreach (var field in SetFields(sampling))
        {
            if (!honoured.Contains(field))
            {
                throw Invalid(sequenceId, field, $"is not supported by the {engine} engine (it honours: {string.Join(", ", honoured)})");
            }
        }

        if (sampling.HasTemperature && !(sampling.Temperature >= 0 && double.IsFinite(sampling.Temperature)))
        {
            throw Invalid(sequenceId, "temperature", Value(sampling.Temperature) + " must be finite and >= 0");
        }

        if (sampling.HasTopP && !(sampling.TopP > 0 && sampling.TopP <= 1))
        {
            throw Invalid(sequenceId, "top_p", Value(sampling.TopP) + " must be in (0, 1]");
        }

        if (sampling.HasTopK && sampling.TopK < -1)
        {
            throw Invalid(sequenceId, "top_k", Value(sampling.TopK) + " must be -1 (off), 0 (off) or > 0");
        }

        if (sampling.HasMinP && !(sampling.MinP >= 0 && sampling.MinP <= 1))
        {
            throw Invalid(sequenceId, "min_p", Value(sampling.MinP) + " must be in [0, 1]");
        }

        if (sampling.MinTokens < 0)
        {
            throw Invalid(sequenceId, "min_tokens", Value(sampling.MinTokens) + " must be >= 0");
        }

        for (var i = 0; i < sampling.Stop.Count; i++)
        {
            if (string.IsNullOrEmpty(sampling.Stop[i]))
            {
                throw Invalid(sequenceId, string.Create(CultureInfo.InvariantCulture, $"stop[{i}]"), "is empty");
            }
        }

        for (var i = 0; i < sampling.StopTokenIds.Count; i++)
        {
            if (sampling.StopTokenIds[i] < 0)
            {
                throw Invalid(sequenceId, string.Create(CultureInfo.InvariantCulture, $"stop_token_ids[{i}]"), Value(sampling.StopTokenIds[i]) + " is not a token id");
            }
        }
    }

    /// <summary>True when a fixed seed asks for a reproducible sampled sequence, which a resume cannot give.</summary>
    public static bool WantsReproducibility(SamplingParams? sampling)
        => sampling is { HasSeed: true } && (!sampling.HasTemperature || sampling.Temperature > 0);

    private static WorkerException Invalid(string sequenceId, string parameter, string reason)
        => new(WorkerErrorKind.InvalidArgument, $"sequence '{sequenceId}': sampling parameter '{parameter}' {reason}");

    private static string Value(double value) => "= " + value.ToString("R", CultureInfo.InvariantCulture);
}
