using System.Globalization;
using System.Text.RegularExpressions;
using Laps.Operator.Model;

namespace Laps.Operator.Desired;

/// <summary>
/// What is wrong with a pool that the schema let through? The CRD's CEL rules, again (for API servers that predate
/// them, and for tests), plus what the schema cannot say: the names the pool's objects derive from must be valid.
/// An invalid pool is reported as Degraded/InvalidSpec, never thrown.
/// </summary>
public static partial class SpecValidator
{
    // "<pool>-scheduler" must be a DNS-1035 label (a Service name): at most 63 characters, starting with a letter.
    public const int MaxNameLength = 63 - 10;

    public static IReadOnlyList<string> Validate(ResolvedPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var errors = new List<string>();
        if (pool.Name.Length > MaxNameLength || !Dns1035().IsMatch(pool.Name))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"metadata.name '{pool.Name}' must be a DNS-1035 label of at most {MaxNameLength} characters (it names the pool's Services)"));
        }

        var w = pool.Workers;
        if (w.Engine is not (Engines.Sim or Engines.Custom or Engines.Vllm or Engines.Sglang))
        {
            errors.Add($"workers.engine '{w.Engine}' must be sim, custom, vllm or sglang");
        }

        if (Engines.IsReal(w.Engine) && w.Llm.Length == 0)
        {
            errors.Add("workers.models.llm is required when workers.engine is vllm or sglang (the model the engine serves)");
        }

        if (Engines.IsReal(w.Engine) && w.Proposer is "eagle" or "draft" && w.Ssm is null)
        {
            errors.Add("workers.models.ssm is required when workers.proposer is eagle or draft on engine vllm or sglang (the EAGLE head or draft model)");
        }

        if (!Engines.IsReal(w.Engine) && w.HasEngineSettings)
        {
            errors.Add("workers.engineImage, workers.modelCache and workers.huggingFaceToken apply only to engine vllm or sglang");
        }

        if (w.HuggingFaceTokenSecret is "")
        {
            errors.Add("workers.huggingFaceToken.secretName is required when workers.huggingFaceToken is set");
        }

        if (w.SpeculationLength is < 1 or > 16)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"workers.speculationLength ({w.SpeculationLength}) must be in 1..16"));
        }

        if (w.Engine == Engines.Custom && string.IsNullOrEmpty(w.Image))
        {
            errors.Add("workers.image is required when workers.engine is custom");
        }

        if (w.Engine != Engines.Sim && w.HasSimSettings)
        {
            errors.Add("workers.sim applies only to engine sim");
        }

        if (w.Replicas < 0)
        {
            errors.Add("workers.replicas must be >= 0");
        }

        if (w.Port is < 1 or > 65535)
        {
            errors.Add("workers.port must be in 1..65535");
        }

        // The adapter's gRPC port beside the engine's own and the engine metrics proxy, in one pod.
        if (Engines.IsReal(w.Engine) && (w.Port == w.EnginePort || w.Port == DesiredState.EngineMetricsPort))
        {
            errors.Add("workers.port must not be the engine's port (vllm 8000, sglang 30000) or the engine metrics port 9400 on engine vllm or sglang");
        }

        // A policy's knobs (a section, as scheduler.laps, or one field) only beside that policy.
        var s = pool.Scheduler;
        errors.AddRange(s.Knobs()
            .Where(k => k.Knob.Policies.Count > 0 && !k.Knob.Policies.Contains(s.Policy))
            .Select(k => $"scheduler.{k.Knob.CrdField.Split('.')[0]} applies only to policy {string.Join(" or ", k.Knob.Policies)}")
            .Distinct());

        if (s.Laps is { PosteriorCapacity: { } capacity, PosteriorNeighbours: { } neighbours } && capacity < neighbours)
        {
            errors.Add("scheduler.laps.posteriorCapacity must be at least scheduler.laps.posteriorNeighbours");
        }

        if (s.BatchSize > w.MaxBatch)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"scheduler.batchSize ({s.BatchSize}) must not exceed workers.maxBatch ({w.MaxBatch})"));
        }

        if (s.ApiKeysSecret is "")
        {
            errors.Add("scheduler.apiKeys.secretName is required when scheduler.apiKeys is set");
        }
        else if (s.ApiKeysSecret is { } secret && (secret.Length > 253 || !Dns1123Subdomain().IsMatch(secret)))
        {
            errors.Add($"scheduler.apiKeys.secretName '{secret}' must be a Secret's name (a DNS-1123 subdomain)");
        }

        if (s.ApiKeysKey.Length > 253 || !SecretKey().IsMatch(s.ApiKeysKey))
        {
            errors.Add($"scheduler.apiKeys.key '{s.ApiKeysKey}' must be a Secret key (letters, digits, '-', '_', '.')");
        }

        var prometheus = pool.NetworkPolicy.PrometheusNamespace;
        if (prometheus.Length > 63 || !Dns1123Label().IsMatch(prometheus))
        {
            errors.Add($"networkPolicy.prometheus.namespace '{prometheus}' must be a namespace's name (a DNS-1123 label)");
        }

        return errors;
    }

    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Dns1035();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Dns1123Label();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Dns1123Subdomain();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex SecretKey();
}
