using System.Globalization;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Prediction;
using Laps.Simulation.Arrivals;
using Laps.Simulation.Engine;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Experiments;

/// <summary>
/// Runs an <see cref="ExperimentSpec"/>. For each batch size and seed it samples the requests, measures the FCFS
/// saturation throughput with every request queued at once (on the whole pool of <see cref="ExperimentSpec.Workers"/>),
/// then for each load ρ draws arrivals at ρ × that throughput and runs every policy on the same requests, arrivals and
/// predictions (paired comparison).
/// </summary>
public sealed class ExperimentRunner
{
    private readonly Workload _workload;
    private readonly IArrivalProcess _arrivals;

    public ExperimentRunner(ExperimentSpec spec)
    {
        spec.Validate();
        Spec = spec;
        _workload = WorkloadCatalog.Load(spec.Workload);
        _arrivals = ArrivalSpec.Parse(spec.Arrivals).CreateProcess();
    }

    public ExperimentSpec Spec { get; }

    /// <summary>Number of runs <see cref="Run"/> will report (saturation measurements not counted).</summary>
    public int TotalRuns => Spec.Levels * Spec.Batches.Count * Spec.Seeds * Spec.Policies.Count;

    /// <summary>Acceptance a policy assumes before a request has drafted anything (not the truth: a proposer-wide prior).</summary>
    public static double PriorAcceptance(ProposerKind proposer) => proposer == ProposerKind.Ngram ? 0.3 : 0.65;

    /// <summary>Runs everything; <paramref name="progress"/> hears each finished run. Results come back in a stable order.</summary>
    public IReadOnlyList<RunResult> Run(IProgress<RunResult>? progress = null, CancellationToken cancellationToken = default)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Spec.Parallelism), CancellationToken = cancellationToken };

        // Stage 1: per (batch, seed), the requests and the saturation throughput they reach under FCFS.
        var groups = (from batch in Spec.Batches from seed in SeedList() select (batch, seed)).ToArray();
        var prepared = new Prepared[groups.Length];
        Parallel.For(0, groups.Length, parallel, i => prepared[i] = Prepare(groups[i].batch, groups[i].seed));

        // Stage 2: every (load or rate, policy) on each prepared group.
        var levels = Spec.Rates ?? Spec.Loads;
        var jobs = (from g in prepared
                    from level in levels
                    from policy in Spec.Policies
                    select (g, level, policy)).ToArray();
        var results = new RunResult[jobs.Length];
        Parallel.For(0, jobs.Length, parallel, i =>
        {
            var (g, level, policy) = jobs[i];
            // A load is reported as given (rate / saturation would come back as 0.8500000000000001).
            var (rate, load) = Spec.Rates is null ? (level * g.SaturationRps, level) : (level, level / g.SaturationRps);
            results[i] = RunOne(g, rate, load, policy);
            progress?.Report(results[i]);
        });

        var policyOrder = Spec.Policies.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i, StringComparer.Ordinal);
        return results
            .OrderBy(r => r.Batch).ThenBy(r => r.Load).ThenBy(r => r.Seed).ThenBy(r => policyOrder[r.Policy])
            .ToArray();
    }

    private IEnumerable<int> SeedList() => Enumerable.Range(Spec.FirstSeed, Spec.Seeds);

    private SimulationOptions OptionsFor(int batch) => new()
    {
        Proposer = Spec.Proposer,
        K = Spec.K,
        Batch = batch,
        StepTime = Spec.StepTime,
        KvCapacityTokens = Spec.KvCapacityTokens,
        Resume = Spec.Resume,
        Workers = Spec.Workers,
        FairShare = Spec.FairShare,
    };

    private Prepared Prepare(int batch, int seed)
    {
        var entries = _workload.Sample(Spec.Requests, new Random(seed));
        var atOnce = SimulatedRequest.From(entries, new double[entries.Count], Spec.Proposer);
        var options = OptionsFor(batch);
        var stepSeconds = Simulator.ReferenceStepSeconds(options, atOnce);
        var context = new PolicyContext(Spec.K, stepSeconds, PriorAcceptance(Spec.Proposer));
        var outcome = new Simulator(options).Run(atOnce, new FcfsPolicy(context), new OracleLengthPredictor());

        // Throughput up to the 90th completion: the drain of the last long requests at a shrinking batch is not capacity.
        var finish = (double[])outcome.FinishTimes.Clone();
        Array.Sort(finish);
        var cut = Math.Max(0, (int)Math.Ceiling(0.9 * finish.Length) - 1);
        var saturation = (cut + 1) / finish[cut];

        var logs = entries.Select(e => Math.Log(Math.Max(1, e.AccLen(Spec.Proposer).Length))).ToArray();
        var mean = logs.Average();
        var sigma = Math.Sqrt(logs.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, logs.Length - 1));
        return new Prepared(batch, seed, entries, context, saturation, sigma);
    }

    private RunResult RunOne(Prepared g, double rate, double load, string policyName)
    {
        var arrivals = _arrivals.Generate(g.Entries.Count, rate, new Random(unchecked((g.Seed * 7919) + 104729)));
        var requests = WithTenants(SimulatedRequest.From(g.Entries, arrivals, Spec.Proposer), g.Seed);
        var policy = PolicyCatalog.Create(policyName, g.Context, Spec.PolicySettings);
        ILengthPredictor predictor = Spec.Predictor == LengthPredictorKind.Online
            ? new OnlineLengthPredictor() // a fresh learner per run, as a sidecar starts with one
            : Spec.PredictorTau is null or >= 1
                ? new OracleLengthPredictor()
                : new NoisyOracleLengthPredictor(Spec.PredictorTau.Value, g.LengthLogSigma, new Random(unchecked((g.Seed * 31337) + 7)));
        var outcome = new Simulator(OptionsFor(g.Batch)).Run(requests, policy, predictor);

        return new RunResult
        {
            Policy = policyName,
            Workload = Spec.Workload,
            Proposer = Spec.Proposer switch
            {
                ProposerKind.Ngram => "ngram",
                ProposerKind.DraftModel => "draft",
                _ => "eagle",
            },
            Arrivals = Spec.Arrivals,
            Load = load,
            Batch = g.Batch,
            Seed = g.Seed,
            Requests = requests.Count,
            MeanLatencySeconds = outcome.Latencies.Average(),
            P50LatencySeconds = Statistics.Quantile(outcome.Latencies, 0.50),
            P99LatencySeconds = Statistics.Quantile(outcome.Latencies, 0.99),
            MeanTtftSeconds = outcome.Ttfts.Average(),
            P99TtftSeconds = Statistics.Quantile(outcome.Ttfts, 0.99),
            PreemptionsPerRequest = outcome.MeanPreemptions,
            EstimateMape = outcome.EstimateMape,
            Predictor = predictor switch
            {
                NoisyOracleLengthPredictor noisy => string.Create(CultureInfo.InvariantCulture, $"tau={noisy.KendallTau}"),
                _ => predictor.Name,
            },
            ArrivalRate = rate,
            BusySeconds = outcome.BusySeconds,
            MakespanSeconds = outcome.MakespanSeconds,
            Steps = outcome.Steps,
            RecomputedTokens = outcome.RecomputedTokens,
            Workers = Spec.Workers,
            Latencies = outcome.Latencies,
            FairShare = Spec.Tenants > 1 ? Spec.FairShare : null,
            Tenants = Spec.Tenants > 1 ? PerTenant(requests, outcome) : null,
        };
    }

    /// <summary>The name of tenant <paramref name="index"/> in a run of several tenants.</summary>
    public static string TenantName(int index) => "t" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Each request's tenant: tenant i with probability ∝ skew^i, drawn request by request from a generator of its own
    /// (seeded by the run's seed), so every policy and both fair-share settings see the same tenants.
    /// </summary>
    private IReadOnlyList<SimulatedRequest> WithTenants(IReadOnlyList<SimulatedRequest> requests, int seed)
    {
        if (Spec.Tenants == 1)
        {
            return requests;
        }

        var weights = Enumerable.Range(0, Spec.Tenants).Select(i => Math.Pow(Spec.TenantSkew, i)).ToArray();
        var total = weights.Sum();
        var random = new Random(unchecked((seed * 65537) + 11));
        return [.. requests.Select(r =>
        {
            var u = random.NextDouble() * total;
            var tenant = 0;
            while (tenant < weights.Length - 1 && u >= weights[tenant])
            {
                u -= weights[tenant++];
            }

            return r with { Tenant = TenantName(tenant) };
        })];
    }

    private static TenantResult[] PerTenant(IReadOnlyList<SimulatedRequest> requests, SimulationOutcome outcome)
        => [.. requests
            .GroupBy(r => r.Tenant, StringComparer.Ordinal)
            .OrderBy(g => g.Key.Length).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var latencies = g.Select(r => outcome.Latencies[r.Index]).ToArray();
                return new TenantResult
                {
                    Tenant = g.Key,
                    Requests = latencies.Length,
                    MeanLatencySeconds = latencies.Average(),
                    P99LatencySeconds = Statistics.Quantile(latencies, 0.99),
                    MeanTtftSeconds = g.Average(r => outcome.Ttfts[r.Index]),
                };
            })];

    private sealed record Prepared(int Batch, int Seed, IReadOnlyList<WorkloadEntry> Entries, PolicyContext Context, double SaturationRps, double LengthLogSigma);
}
