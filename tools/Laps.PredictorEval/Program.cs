using System.Diagnostics;
using System.Globalization;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Laps.Simulation.Workloads;

// Kendall τ of OnlineLengthPredictor on a held-out part of the SpecDecode traces (docs/predictor.md). Usage:
//   dotnet run -c Release --project tools/Laps.PredictorEval -- [--traces DIR] [--seed 1] [--holdout 0.3] [--folds 5]
// Per dataset: shuffle (seeded), hold out the last --holdout fraction. Hyperparameters are chosen by k-fold
// cross-validation on the training part only; the held-out part is scored once, with the chosen setting.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var traces = Arg("--traces") ?? Path.Combine("..", "shared", "traces");
var seed = int.Parse(Arg("--seed") ?? "1", CultureInfo.InvariantCulture);
var holdout = double.Parse(Arg("--holdout") ?? "0.3", CultureInfo.InvariantCulture);
var folds = int.Parse(Arg("--folds") ?? "5", CultureInfo.InvariantCulture);
string[] datasets = ["sharegpt", "cnn", "gsm8k"];

var train = new List<Sample>();
var test = new List<Sample>();
foreach (var name in datasets)
{
    var path = Path.GetFullPath(Path.Combine(traces, $"specdecode-{name}.jsonl"));
    if (!File.Exists(path))
    {
        Console.Error.WriteLine($"predictor-eval: trace not found: {path} (pass --traces <dir>)");
        return 2;
    }

    var samples = TraceReader.ReadFile(path)
        .Where(e => e.PromptTokenIds is { Length: > 0 })
        .Select(e => new Sample(name, e.PromptTokenIds!, e.AccLenEagle.Length))
        .ToArray();
    Shuffle(samples, new Random(seed));
    var cut = (int)Math.Round(samples.Length * (1 - holdout));
    train.AddRange(samples[..cut]);
    test.AddRange(samples[cut..]);
}

Console.WriteLine($"# train {train.Count}, held out {test.Count} (seed {seed}, holdout {holdout}, {folds}-fold CV on train)");
Console.WriteLine();

// ---- Model selection: k-fold CV on the training part (stratified by dataset). Score = mixed τ + mean per-dataset τ.
int[] epochCheckpoints = [1, 2, 4, 8, 16, 32];
var grid = (from lr in new[] { 0.03, 0.1 }
            from interactions in new[] { true }
            from bigrams in new[] { true, false }
            from tail in new[] { 0 }
            from average in new[] { true, false }
            from minPrompts in new[] { 1, 3, 10 }
            from l2 in new[] { 0.0, 0.01 }
            select new OnlineLengthPredictorOptions
            {
                LearningRate = lr, LengthInteractions = interactions, Bigrams = bigrams, TailTokens = tail, AverageWeights = average,
                MinFeaturePrompts = minPrompts, L2 = l2,
            })
    .ToArray();
var foldOf = AssignFolds(train, folds, seed);
var stopwatch = Stopwatch.StartNew();
var cv = new List<(OnlineLengthPredictorOptions Options, int Epochs, double Mixed, double PerDataset)>();
foreach (var options in grid)
{
    var mixed = new double[epochCheckpoints.Length];
    var perDataset = new double[epochCheckpoints.Length];
    for (var f = 0; f < folds; f++)
    {
        var fit = train.Where((_, i) => foldOf[i] != f).ToArray();
        var validation = train.Where((_, i) => foldOf[i] == f).ToArray();
        var predictor = new OnlineLengthPredictor(options);
        var done = 0;
        for (var c = 0; c < epochCheckpoints.Length; c++)
        {
            for (; done < epochCheckpoints[c]; done++)
            {
                Epoch(predictor, fit, new Random(Seed(seed, f, done)));
            }

            var scores = Score(predictor, validation);
            mixed[c] += scores.Mixed / folds;
            perDataset[c] += scores.MeanPerDataset / folds;
        }
    }

    for (var c = 0; c < epochCheckpoints.Length; c++)
    {
        cv.Add((options, epochCheckpoints[c], mixed[c], perDataset[c]));
    }
}

var ranked = cv.OrderByDescending(r => r.Mixed + r.PerDataset).ToList();
Console.WriteLine($"## Cross-validation on the training part ({grid.Length} settings x {epochCheckpoints.Length} epoch counts, {stopwatch.Elapsed.TotalSeconds:F0} s): top 8");
Console.WriteLine();
Console.WriteLine("| learning rate | length interactions | bigrams | tail | averaged | min prompts | L2 | epochs | CV τ mixed | CV τ per dataset (mean) |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in ranked.Take(8))
{
    Console.WriteLine($"| {r.Options.LearningRate} | {r.Options.LengthInteractions} | {r.Options.Bigrams} | {r.Options.TailTokens} | {r.Options.AverageWeights} | {r.Options.MinFeaturePrompts} | {r.Options.L2} | {r.Epochs} | {r.Mixed:F3} | {r.PerDataset:F3} |");
}

var onePass = cv.Where(r => r.Epochs == 1).OrderByDescending(r => r.Mixed + r.PerDataset).First();
Console.WriteLine();
Console.WriteLine($"Best single pass (as live, where each completion is seen once): learning rate {onePass.Options.LearningRate}, bigrams {onePass.Options.Bigrams}, " +
                  $"averaged {onePass.Options.AverageWeights}, min prompts {onePass.Options.MinFeaturePrompts}, L2 {onePass.Options.L2}: CV mixed {onePass.Mixed:F3}, per dataset {onePass.PerDataset:F3}.");

var defaults = new OnlineLengthPredictorOptions();
var defaultsCv = cv.Where(r => r.Options == defaults with { }).OrderByDescending(r => r.Mixed + r.PerDataset).FirstOrDefault();
if (defaultsCv.Options is not null)
{
    Console.WriteLine();
    Console.WriteLine($"Library defaults: best CV at {defaultsCv.Epochs} epochs: mixed {defaultsCv.Mixed:F3}, per dataset {defaultsCv.PerDataset:F3}.");
}

var best = ranked[0];
Console.WriteLine();

// ---- Held-out evaluation, once, with the chosen setting.
var chosen = new OnlineLengthPredictor(best.Options);
for (var e = 0; e < best.Epochs; e++)
{
    Epoch(chosen, train.ToArray(), new Random(Seed(seed, 100, e)));
}

var single = new OnlineLengthPredictor(onePass.Options);
Epoch(single, train.ToArray(), new Random(Seed(seed, 100, 0)));

Console.WriteLine($"## Held-out Kendall τ-b ({test.Count} requests; chosen: learning rate {best.Options.LearningRate}, length interactions {best.Options.LengthInteractions}, bigrams {best.Options.Bigrams}, tail {best.Options.TailTokens}, averaged {best.Options.AverageWeights}, min prompts {best.Options.MinFeaturePrompts}, L2 {best.Options.L2}, {best.Epochs} epochs)");
Console.WriteLine();
Console.WriteLine("| predictor | sharegpt | cnn | gsm8k | mixed |");
Console.WriteLine("|---|---|---|---|---|");
Row("online, mixed model, chosen epochs", s => chosen.Predict(Request(s)));
Row("online, mixed model, one pass (best single-pass setting, live-like)", s => single.Predict(Request(s)));

// One model per dataset (the per-dataset columns only; the mixed column then uses the dataset's own model).
var own = datasets.ToDictionary(d => d, d =>
{
    var p = new OnlineLengthPredictor(best.Options);
    var part = train.Where(s => s.Dataset == d).ToArray();
    for (var e = 0; e < best.Epochs; e++)
    {
        Epoch(p, part, new Random(Seed(seed, 200 + Array.IndexOf(datasets, d), e)));
    }

    return p;
});
Row("online, one model per dataset", s => own[s.Dataset].Predict(Request(s)));
Row("prompt length", s => s.Prompt.Length);
var means = datasets.ToDictionary(d => d, d => train.Where(s => s.Dataset == d).Average(s => Math.Log(s.Length)));
Row("dataset's mean length (knows the dataset)", s => means[s.Dataset]);
Row("constant (256)", _ => 256);

// ---- Live replay: the whole fleet in one shuffled stream, each request predicted before the model learns from it.
var stream = train.Concat(test).ToArray();
Shuffle(stream, new Random(seed + 7));
var live = new OnlineLengthPredictor(onePass.Options);
var window = new RollingKendallTau(300);
var replayPredicted = new double[stream.Length];
var replayTrue = new double[stream.Length];
for (var i = 0; i < stream.Length; i++)
{
    var request = Request(stream[i]);
    replayPredicted[i] = live.Predict(request);
    replayTrue[i] = stream[i].Length;
    window.Add(replayPredicted[i], stream[i].Length);
    live.Observe(request, stream[i].Length);
}

var half = stream.Length / 2;
Console.WriteLine();
Console.WriteLine($"Live replay (all {stream.Length} requests, one shuffled stream, predict then learn): τ over the stream {KendallTau.TauB(replayPredicted, replayTrue):F3}, " +
                  $"second half {KendallTau.TauB(replayPredicted.AsSpan(half), replayTrue.AsSpan(half)):F3}, RollingKendallTau(300) at the end {window.Compute():F3}.");

// Cost of a prediction.
var longest = stream.MaxBy(s => s.Prompt.Length)!;
var timing = new[] { Request(longest), Request(stream[0]) };
stopwatch.Restart();
const int Reps = 20000;
var sink = 0.0;
for (var i = 0; i < Reps; i++)
{
    sink += live.Predict(timing[i & 1]);
}

Console.WriteLine($"Prediction cost: {stopwatch.Elapsed.TotalMicroseconds / Reps:F1} µs on average over a {longest.Prompt.Length}-token and a {stream[0].Prompt.Length}-token prompt (checksum {sink:E3}).");
return 0;

void Row(string label, Func<Sample, double> predict)
{
    var cells = datasets.Select(d => Tau(test.Where(s => s.Dataset == d), predict)).Append(Tau(test, predict));
    Console.WriteLine($"| {label} | {string.Join(" | ", cells.Select(c => double.IsNaN(c) ? "n/a" : c.ToString("F3")))} |");
}

static double Tau(IEnumerable<Sample> samples, Func<Sample, double> predict)
{
    var list = samples.ToArray();
    return KendallTau.TauB(list.Select(predict).ToArray(), list.Select(s => (double)s.Length).ToArray());
}

(double Mixed, double MeanPerDataset) Score(OnlineLengthPredictor predictor, Sample[] validation)
{
    var predictions = validation.Select(s => predictor.Predict(Request(s))).ToArray();
    var truth = validation.Select(s => (double)s.Length).ToArray();
    var perDataset = datasets.Select(d =>
    {
        var idx = Enumerable.Range(0, validation.Length).Where(i => validation[i].Dataset == d).ToArray();
        return KendallTau.TauB(idx.Select(i => predictions[i]).ToArray(), idx.Select(i => truth[i]).ToArray());
    }).Select(t => double.IsNaN(t) ? 0 : t).Average();
    return (KendallTau.TauB(predictions, truth), perDataset);
}

static void Epoch(OnlineLengthPredictor predictor, Sample[] samples, Random random)
{
    var order = (Sample[])samples.Clone();
    Shuffle(order, random);
    foreach (var s in order)
    {
        predictor.Observe(Request(s), s.Length);
    }
}

// Deterministic across processes (HashCode.Combine is randomised per process).
static int Seed(int seed, int stream, int epoch) => unchecked((seed * 1_000_003) + (stream * 10_007) + epoch);

static RequestState Request(Sample s) => new(0, 0, s.Prompt.Length) { PromptTokenIds = s.Prompt };

static int[] AssignFolds(List<Sample> samples, int k, int seed)
{
    // Stratified: within each dataset, in the (already shuffled) order, deal folds round-robin.
    var folds = new int[samples.Count];
    var next = new Dictionary<string, int>();
    for (var i = 0; i < samples.Count; i++)
    {
        var n = next.GetValueOrDefault(samples[i].Dataset, seed % k);
        folds[i] = n % k;
        next[samples[i].Dataset] = n + 1;
    }

    return folds;
}

static void Shuffle<T>(T[] items, Random random)
{
    for (var i = items.Length - 1; i > 0; i--)
    {
        var j = random.Next(i + 1);
        (items[i], items[j]) = (items[j], items[i]);
    }
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

internal sealed record Sample(string Dataset, int[] Prompt, int Length);
