using System.Diagnostics;
using System.Globalization;
using System.Text;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Simulation.Experiments;

// The reproduction study behind docs/evaluation.md. Usage:
//   dotnet run -c Release --project tools/Laps.Evaluation -- [--traces DIR] [--out docs] [--quick]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var traces = Arg("--traces") ?? Path.Combine("..", "shared", "traces");
var outDir = Arg("--out") ?? "docs";
var quick = args.Contains("--quick");
var requests = quick ? 300 : 2000;
var seeds = quick ? 2 : 3;

string T(string name) => Path.GetFullPath(Path.Combine(traces, name));
var sharegpt = T("specdecode-sharegpt.jsonl");
var cnn = T("specdecode-cnn.jsonl");
var gsm8k = T("specdecode-gsm8k.jsonl");
var azure = T("azure-llm-2023-conv.csv");
foreach (var f in new[] { sharegpt, cnn, gsm8k, azure })
{
    if (!File.Exists(f))
    {
        Console.Error.WriteLine($"evaluation: trace not found: {f} (pass --traces <dir>)");
        return 2;
    }
}

(string Name, string Spec)[] workloads = [("sharegpt", sharegpt), ("cnn", cnn), ("gsm8k", gsm8k), ("mixed", $"{sharegpt},{cnn},{gsm8k}")];
var shortName = workloads.ToDictionary(w => w.Spec, w => w.Name);
(string Name, ProposerKind Kind)[] proposers = [("eagle", ProposerKind.Eagle), ("ngram", ProposerKind.Ngram)];
string[] baselines = ["fcfs", "mlfq", "las", "sjf", "srpt"];
double[] loads = quick ? [0.5, 0.85] : [0.5, 0.7, 0.85, 0.95];
int[] batches = quick ? [1, 8] : [1, 8, 32];

var rows = new List<Row>();
var clock = Stopwatch.StartNew();

void Run(string section, string setting, ExperimentSpec spec)
{
    var started = clock.Elapsed;
    var results = new ExperimentRunner(spec with { Requests = requests, Seeds = seeds }).Run();
    rows.AddRange(results.Select(r => new Row(section, shortName.GetValueOrDefault(r.Workload, r.Workload), setting, r)));
    Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {section,-10} {setting,-28} {shortName.GetValueOrDefault(spec.Workload, spec.Workload),-9} {spec.Proposer,-6} {spec.Arrivals.Split('/')[^1],-24} {results.Count,4} runs in {(clock.Elapsed - started).TotalSeconds:F1} s");
}

// 1. The main grid: every workload × proposer × batch × load, τ = 0.55, Poisson.
foreach (var (_, spec) in workloads)
{
    foreach (var (_, kind) in proposers)
    {
        Run("main", "default", new ExperimentSpec { Workload = spec, Proposer = kind, Loads = loads, Batches = batches });
    }
}

// 2. Predictor quality, and the estimate's error with true lengths.
foreach (var (_, spec) in workloads)
{
    foreach (var tau in new double?[] { 0.3, 0.8, null })
    {
        Run("predictor", tau is null ? "oracle" : $"tau={tau}", new ExperimentSpec { Workload = spec, Loads = [0.85], Batches = [1, 8], PredictorTau = tau });
    }

    Run("predictor", "oracle, point estimate", new ExperimentSpec
    {
        Workload = spec, Loads = [0.85], Batches = [1, 8], PredictorTau = null, Policies = ["laps"],
        PolicySettings = new PolicySettings { Laps = new LapsOptions { Estimate = RemainingEstimate.Point } },
    });
}

// 3. Arrival processes: bursty Gamma and the real Azure conversation timestamps.
foreach (var (_, spec) in workloads)
{
    foreach (var (_, kind) in proposers)
    {
        foreach (var arrivals in new[] { "gamma:2", "gamma:4", azure })
        {
            Run("arrivals", Path.GetFileName(arrivals), new ExperimentSpec { Workload = spec, Proposer = kind, Arrivals = arrivals, Loads = [0.85], Batches = [1, 8] });
        }
    }
}

// 4. Sensitivity to the knobs, and ablations (LAPS only; baselines come from the main grid, same seeds).
var knobs = new (string Name, LapsOptions Options)[]
{
    ("queues=1 (one queue)", new LapsOptions { Queues = 1 }),
    ("queues=2", new LapsOptions { Queues = 2 }),
    ("queues=8", new LapsOptions { Queues = 8 }),
    ("theta0=1 step", new LapsOptions { Theta0Steps = 1 }),
    ("theta0=4 steps", new LapsOptions { Theta0Steps = 4 }),
    ("theta0=8 steps", new LapsOptions { Theta0Steps = 8 }),
    ("tolerance=0 (never stable)", new LapsOptions { StabilityTolerance = 0 }),
    ("tolerance=0.02", new LapsOptions { StabilityTolerance = 0.02 }),
    ("tolerance=0.1", new LapsOptions { StabilityTolerance = 0.1 }),
    ("tolerance=inf, min 0", new LapsOptions { StabilityTolerance = double.PositiveInfinity, MinSteps = 0 }),
    ("window=3", new LapsOptions { StabilityWindow = 3 }),
    ("window=10", new LapsOptions { StabilityWindow = 10 }),
    ("estimate=point", new LapsOptions { Estimate = RemainingEstimate.Point }),
    ("estimate=posterior", new LapsOptions { Estimate = RemainingEstimate.Posterior }),
    ("conditioning=neighbours", new LapsOptions { Conditioning = PosteriorConditioning.Neighbours }),
    ("variant=paper", new LapsOptions { Variant = LapsVariant.Paper }),
    ("no reserved top queue", new LapsOptions { ReserveTopQueue = false }),
    ("no prediction before stable", new LapsOptions { PredictBeforeStable = false }),
    ("acceptance prior 0 steps", new LapsOptions { AcceptancePriorSteps = 0 }),
    ("paper preset", LapsOptions.Paper),
    ("paper, tolerance=0 (= LAS)", LapsOptions.Paper with { StabilityTolerance = 0 }),
    ("paper, one queue", LapsOptions.Paper with { Queues = 1 }),
    ("paper, one queue, always perceptible (= SRPT on the estimate)", LapsOptions.Paper with { Queues = 1, StabilityTolerance = double.PositiveInfinity, MinSteps = 0 }),
};
foreach (var (_, spec) in workloads.Where(w => w.Name is "sharegpt" or "mixed"))
{
    foreach (var (name, options) in knobs)
    {
        Run("knobs", name, new ExperimentSpec
        {
            Workload = spec, Loads = [0.85], Batches = [1, 8], Policies = ["laps"],
            PolicySettings = new PolicySettings { Laps = options },
        });
    }

    // 5. Preemption cost: every preemption drops the KV cache.
    Run("resume", "recompute", new ExperimentSpec { Workload = spec, Loads = [0.85], Batches = [1, 8], Resume = ResumeMode.Recompute });
    Run("resume", "recompute, LAPS without cost-aware preemption", new ExperimentSpec
    {
        Workload = spec, Loads = [0.85], Batches = [1, 8], Resume = ResumeMode.Recompute, Policies = ["laps"],
        PolicySettings = new PolicySettings { Laps = new LapsOptions { CostAwarePreemption = false } },
    });
}

// 6. The engine alone (FCFS continuous batching at its own cap: vLLM's default --max-num-seqs is 256) against LAPS-SD
// capped at a small batch and at the engine's cap, at the same request rates: fractions of the engine's own saturation.
const int EngineCap = 256;
var engineSaturation = new ExperimentRunner(new ExperimentSpec
{
    Workload = sharegpt, Loads = [1.0], Batches = [EngineCap], Policies = ["fcfs"], Requests = requests, Seeds = 1,
}).Run()[0].ArrivalRate;
Run("capacity", "engine cap 256 vs small batch", new ExperimentSpec
{
    Workload = sharegpt, Rates = [.. Report.CapacityFractions.Select(f => Math.Round(f * engineSaturation, 3))], Batches = [8, EngineCap],
    Policies = ["fcfs", "laps"],
});

Directory.CreateDirectory(outDir);
var dataDir = Path.Combine(outDir, "evaluation");
Directory.CreateDirectory(dataDir);
WriteCsv(Path.Combine(dataDir, "runs.csv"), rows);
var notesPath = Path.Combine(outDir, "evaluation-notes.md");
var notes = File.Exists(notesPath) ? File.ReadAllText(notesPath) : "";
File.WriteAllText(Path.Combine(outDir, "evaluation.md"), Report.Build(rows, baselines, requests, seeds, clock.Elapsed, quick, notes));
Console.WriteLine($"wrote {Path.Combine(outDir, "evaluation.md")} and {Path.Combine(dataDir, "runs.csv")} ({rows.Count} runs, {clock.Elapsed.TotalMinutes:F1} min)");
return 0;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static void WriteCsv(string path, List<Row> rows)
{
    var sb = new StringBuilder("section,setting,workload,proposer,arrivals,predictor,load,batch,seed,policy,requests,mean_latency_s,p50_latency_s,p99_latency_s,mean_ttft_s,p99_ttft_s,preemptions_per_request,estimate_mape,busy_s,recomputed_tokens\n");
    foreach (var (section, workload, setting, r) in rows)
    {
        sb.AppendLine(string.Join(',', section, Csv(setting), workload, r.Proposer, Path.GetFileName(r.Arrivals), r.Predictor, r.Load, r.Batch, r.Seed, r.Policy, r.Requests,
            F(r.MeanLatencySeconds), F(r.P50LatencySeconds), F(r.P99LatencySeconds), F(r.MeanTtftSeconds), F(r.P99TtftSeconds),
            F(r.PreemptionsPerRequest), r.EstimateMape is double m ? F(m) : "", F(r.BusySeconds), r.RecomputedTokens));
    }

    File.WriteAllText(path, sb.ToString());
    static string F(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
    static string Csv(string s) => s.Contains(',') ? $"\"{s}\"" : s;
}

internal sealed record Row(string Section, string Workload, string Setting, RunResult R);
