using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;

namespace Laps.Simulation.Experiments;

/// <summary>What happens to a preempted request's KV cache.</summary>
public enum ResumeMode
{
    /// <summary>KV stays on the worker while capacity allows (least recently served evicted first); evicted ones recompute.</summary>
    Keep,

    /// <summary>Every preemption drops the KV cache: resuming re-prefills prompt and generated tokens.</summary>
    Recompute,
}

/// <summary>Which length predictor the SJF, SRPT and LAPS-SD runs consult.</summary>
public enum LengthPredictorKind
{
    /// <summary>The true length blurred to a Kendall τ of <see cref="ExperimentSpec.PredictorTau"/> (null: the oracle).</summary>
    NoisyOracle,

    /// <summary>
    /// The sidecar's own <see cref="Laps.Scheduling.Prediction.OnlineLengthPredictor"/>: learns from the prompt ids of the
    /// requests that finished so far in the run, so a simulation predicts a live run's scheduling.
    /// </summary>
    Online,
}

/// <summary>
/// A whole <c>laps sim</c> study: every combination of load × batch × seed × policy on one workload, proposer,
/// arrival process and predictor. Policies within a (load, batch, seed) see identical requests, arrivals and
/// predictions (paired comparison).
/// </summary>
public sealed record ExperimentSpec
{
    /// <summary>Built-in profile, trace file, or a comma-separated mix (<c>file:weight</c>), as given on the command line.</summary>
    public required string Workload { get; init; }

    public ProposerKind Proposer { get; init; } = ProposerKind.Eagle;

    /// <summary>Speculation length k.</summary>
    public int K { get; init; } = 4;

    /// <summary><c>poisson</c>, <c>gamma:&lt;cv&gt;</c>, or an Azure-format CSV path.</summary>
    public string Arrivals { get; init; } = "poisson";

    /// <summary>Offered loads ρ as fractions of the measured FCFS saturation throughput (of the whole pool).</summary>
    public IReadOnlyList<double> Loads { get; init; } = [0.85];

    /// <summary>
    /// Absolute arrival rates in requests per second of simulated time; when set they replace <see cref="Loads"/> (each
    /// run still reports its load as rate / the FCFS saturation). For predicting a live run offered a known rate.
    /// </summary>
    public IReadOnlyList<double>? Rates { get; init; }

    public IReadOnlyList<int> Batches { get; init; } = [1];

    public IReadOnlyList<string> Policies { get; init; } = PolicyCatalog.Names;

    public int Requests { get; init; } = 2000;

    public int Seeds { get; init; } = 3;

    /// <summary>First seed; runs use FirstSeed .. FirstSeed + Seeds − 1.</summary>
    public int FirstSeed { get; init; } = 1;

    /// <summary>Kendall τ of the simulated length predictor; null or 1 means the oracle predictor.</summary>
    public double? PredictorTau { get; init; } = 0.55;

    public LengthPredictorKind Predictor { get; init; } = LengthPredictorKind.NoisyOracle;

    /// <summary>The arrival levels a run iterates over: <see cref="Rates"/> when given, else <see cref="Loads"/>.</summary>
    public int Levels => Rates?.Count ?? Loads.Count;

    public PolicySettings PolicySettings { get; init; } = new();

    public StepTimeModel StepTime { get; init; } = StepTimeModel.H100Llama8B;

    /// <summary>KV cache capacity per worker in tokens (Llama-3.1-8B on an 80 GB H100 holds about 400k).</summary>
    public long KvCapacityTokens { get; init; } = 400_000;

    public ResumeMode Resume { get; init; } = ResumeMode.Keep;

    /// <summary>Workers in the simulated pool (one queue and policy, late binding); loads are of the pool's saturation.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>
    /// Tenants the requests come from: request by request, tenant <c>i</c> (named <c>t0</c>, <c>t1</c>, ...) is drawn
    /// with probability ∝ <see cref="TenantSkew"/>^i, from a generator seeded by the run's seed. 1: one tenant, as before.
    /// </summary>
    public int Tenants { get; init; } = 1;

    /// <summary>Each tenant's share of the arrivals relative to the one before (1: equal shares; 0.25 with 2 tenants: 80% / 20%).</summary>
    public double TenantSkew { get; init; } = 1;

    /// <summary>Tenants share each worker's batch slots (<see cref="Laps.Scheduling.FairShare"/>); off: the policy's order alone.</summary>
    public bool FairShare { get; init; } = true;

    /// <summary>Runs executed in parallel (each run is single-threaded and deterministic).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Workload))
        {
            throw new ArgumentException("workload must name a profile or a trace file", nameof(Workload));
        }

        if (K is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(K), K, "speculation length k must be in 1..16");
        }

        foreach (var load in Loads)
        {
            if (!(load > 0 && load < 10))
            {
                throw new ArgumentOutOfRangeException(nameof(Loads), load, "load must be a fraction of saturation throughput in (0, 10)");
            }
        }

        foreach (var batch in Batches)
        {
            if (batch is < 1 or > 4096)
            {
                throw new ArgumentOutOfRangeException(nameof(Batches), batch, "batch must be in 1..4096");
            }
        }

        foreach (var policy in Policies)
        {
            if (!PolicyCatalog.IsKnown(policy))
            {
                throw new ArgumentException($"unknown policy '{policy}'; known: {string.Join(", ", PolicyCatalog.Names)}", nameof(Policies));
            }
        }

        if (Rates is { } rates)
        {
            foreach (var rate in rates)
            {
                if (!(rate > 0) || double.IsInfinity(rate))
                {
                    throw new ArgumentOutOfRangeException(nameof(Rates), rate, "arrival rate must be a positive number of requests per second");
                }
            }

            if (rates.Count == 0)
            {
                throw new ArgumentException("rates, when given, must list at least one value", nameof(Rates));
            }
        }

        if (!Enum.IsDefined(Predictor))
        {
            throw new ArgumentOutOfRangeException(nameof(Predictor), Predictor, "unknown length predictor");
        }

        if (Loads.Count == 0 || Batches.Count == 0 || Policies.Count == 0)
        {
            throw new ArgumentException("loads, batches and policies must each list at least one value");
        }

        if (Requests < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Requests), Requests, "requests must be >= 1");
        }

        if (Seeds < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Seeds), Seeds, "seeds must be >= 1");
        }

        if (PredictorTau is double tau && !(tau > 0 && tau <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(PredictorTau), tau, "predictor Kendall tau must be in (0, 1]");
        }

        if (Workers is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "workers must be in 1..1024");
        }

        if (Tenants is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(Tenants), Tenants, "tenants must be in 1..64");
        }

        if (!(TenantSkew > 0) || double.IsInfinity(TenantSkew))
        {
            throw new ArgumentOutOfRangeException(nameof(TenantSkew), TenantSkew, "tenant skew must be a positive number");
        }

        if (KvCapacityTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(KvCapacityTokens), KvCapacityTokens, "KV capacity must be >= 1 token");
        }

        PolicySettings.Laps.Validate();
        PolicySettings.Mlfq.Validate();
    }
}
