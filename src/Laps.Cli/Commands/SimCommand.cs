using System.CommandLine;
using System.Globalization;
using Laps.Cli.Reports;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Simulation.Experiments;
using Spectre.Console;

namespace Laps.Cli.Commands;

/// <summary>
/// <c>laps sim</c>: options → <see cref="ExperimentSpec"/>, run it (progress bar on stderr), then the summary
/// table on stdout and results.json, results.csv and plots in <c>--out</c> (docs/cli.md).
/// </summary>
internal sealed class SimCommand : Command
{
    public const string CommandName = "sim";
    public const string DefaultWorkload = "sharegpt";
    public const string DefaultOutputDirectory = "out/sim";

    private static readonly ExperimentSpec SpecDefaults = new() { Workload = DefaultWorkload };
    private static readonly LapsOptions LapsDefaults = new();
    private static readonly MlfqOptions MlfqDefaults = new();

    private static readonly Dictionary<string, ResumeMode> ResumeModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["keep"] = ResumeMode.Keep,
        ["recompute"] = ResumeMode.Recompute,
    };

    private static readonly Dictionary<string, PosteriorConditioning> Conditionings = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ratio"] = PosteriorConditioning.Ratio,
        ["neighbours"] = PosteriorConditioning.Neighbours,
    };

    private static readonly Dictionary<string, LengthPredictorKind> Predictors = new(StringComparer.OrdinalIgnoreCase)
    {
        ["noisy"] = LengthPredictorKind.NoisyOracle,
        ["online"] = LengthPredictorKind.Online,
    };

    private static readonly Dictionary<string, bool> OnOff = new(StringComparer.OrdinalIgnoreCase)
    {
        ["on"] = true,
        ["off"] = false,
    };

    // Validate() names the property it rejects; these say which option set it.
    private static readonly Dictionary<string, string> SpecOptionNames = new(StringComparer.Ordinal)
    {
        [nameof(ExperimentSpec.Workload)] = "--workload",
        [nameof(ExperimentSpec.K)] = "--k",
        [nameof(ExperimentSpec.Arrivals)] = "--arrivals",
        [nameof(ExperimentSpec.Loads)] = "--load",
        [nameof(ExperimentSpec.Batches)] = "--batch",
        [nameof(ExperimentSpec.Policies)] = "--policies",
        [nameof(ExperimentSpec.Requests)] = "--requests",
        [nameof(ExperimentSpec.Seeds)] = "--seeds",
        [nameof(ExperimentSpec.FirstSeed)] = "--seed",
        [nameof(ExperimentSpec.PredictorTau)] = "--predictor-tau",
        [nameof(ExperimentSpec.Rates)] = "--rate",
        [nameof(ExperimentSpec.KvCapacityTokens)] = "--kv-capacity",
        [nameof(ExperimentSpec.Workers)] = "--workers",
        [nameof(ExperimentSpec.Parallelism)] = "--parallel",
    };

    private static readonly Dictionary<string, string> LapsOptionNames = new(StringComparer.Ordinal)
    {
        [nameof(LapsOptions.Queues)] = "--laps-queues",
        [nameof(LapsOptions.Theta0Steps)] = "--laps-theta0",
        [nameof(LapsOptions.Ratio)] = "--laps-ratio",
        [nameof(LapsOptions.StabilityWindow)] = "--laps-window",
        [nameof(LapsOptions.StabilityTolerance)] = "--laps-tolerance",
        [nameof(LapsOptions.MinSteps)] = "--laps-min-steps",
    };

    private static readonly Dictionary<string, string> MlfqOptionNames = new(StringComparer.Ordinal)
    {
        [nameof(MlfqOptions.Levels)] = "--mlfq-levels",
        [nameof(MlfqOptions.BaseQuantumSteps)] = "--mlfq-quantum",
    };

    private readonly ExperimentExecutor _executor;

    public SimCommand(ExperimentExecutor executor)
        : base(CommandName, "Run the discrete-event simulator over loads × batches × seeds × policies and report latency.")
    {
        _executor = executor;
        Option[] options =
        [
            Workload, Proposer, K, Arrivals, Loads, Rates, StepOverhead, Batches, Policies, Requests, Seeds, FirstSeed, Predictor, PredictorTau, Out,
            Json, Parallel, KvCapacity, Resume, Workers, LapsVariantOption, LapsEstimate, LapsConditioning, LapsReserveTop, LapsPredictEarly, LapsCostAware, LapsAcceptancePrior, LapsQueues, LapsTheta0, LapsRatio,
            LapsWindow, LapsTolerance, LapsMinSteps, LapsDemote, LapsAging, StarvationGuardFlag, MlfqLevels, MlfqQuantum,
        ];
        foreach (var option in options)
        {
            Options.Add(option);
        }

        // Task.Run: the simulation is synchronous and CPU-bound; running it off the invoking thread lets
        // System.CommandLine's Ctrl+C handling cancel the token and give up waiting after its timeout.
        SetAction((parseResult, cancellationToken) => Task.Run(() => Execute(parseResult, cancellationToken), CancellationToken.None));
    }

    internal Option<string> Workload { get; } = OptionValues.Scalar(
        "--workload", "Built-in profile, trace file, or a comma-separated mix (file:weight)", (_, t) => t, () => DefaultWorkload);

    internal Option<string> Proposer { get; } = OptionValues.ChoiceOption(
        "--proposer", "Draft proposer: an EAGLE head, prompt-lookup n-grams, or a separate draft model", OptionValues.Proposers, "eagle");

    internal Option<int> K { get; } = OptionValues.Scalar(
        "--k", "Speculation length k (drafted tokens per step)", OptionValues.Integer, () => SpecDefaults.K);

    internal Option<string> Arrivals { get; } = OptionValues.Scalar(
        "--arrivals", "Arrival process: poisson, gamma:<cv>, or an Azure-format trace CSV", (_, t) => t, () => SpecDefaults.Arrivals);

    internal Option<IReadOnlyList<double>> Loads { get; } = OptionValues.ListOption(
        "--load", "Offered loads ρ, comma-separated, as fractions of the measured FCFS saturation throughput",
        OptionValues.Number, () => SpecDefaults.Loads, "ρ[,ρ...]");

    internal Option<IReadOnlyList<double>> Rates { get; } = OptionValues.ListOption<double>(
        "--rate", "Absolute arrival rates instead of --load: requests per second of simulated time, comma-separated (to predict a live run offered a known rate)",
        OptionValues.Number, () => [], "r[,r...]");

    internal Option<double> StepOverhead { get; } = OptionValues.Scalar(
        "--step-overhead", "Seconds added to every step's modelled time: the serving path's own cost per step (gRPC, the sidecar), as measured live",
        OptionValues.Number, () => 0);

    internal Option<string> Predictor { get; } = OptionValues.ChoiceOption(
        "--predictor", "Length predictor: 'noisy' (the true length blurred to --predictor-tau) or 'online' (the sidecar's, learning from each finished request's prompt ids)",
        Predictors, "noisy");

    internal Option<IReadOnlyList<int>> Batches { get; } = OptionValues.ListOption(
        "--batch", "Batch sizes B, comma-separated (sequences per step)", OptionValues.Integer, () => SpecDefaults.Batches, "B[,B...]");

    internal Option<IReadOnlyList<string>> Policies { get; } = OptionValues.ListOption(
        "--policies", $"Policies, comma-separated, of {string.Join(", ", PolicyCatalog.Names)}", PolicyName, () => PolicyCatalog.Names, "name[,name...]");

    internal Option<int> Requests { get; } = OptionValues.Scalar(
        "--requests", "Requests per run", OptionValues.Integer, () => SpecDefaults.Requests);

    internal Option<int> Seeds { get; } = OptionValues.Scalar(
        "--seeds", "Number of seeds per configuration", OptionValues.Integer, () => SpecDefaults.Seeds);

    internal Option<int> FirstSeed { get; } = OptionValues.Scalar(
        "--seed", "First seed; runs use seed .. seed + seeds − 1", OptionValues.Integer, () => SpecDefaults.FirstSeed);

    // A string option: System.CommandLine 2.0.0 cannot hand a null (oracle) back from a custom parser.
    internal Option<string> PredictorTau { get; } = OptionValues.Scalar(
        "--predictor-tau", "Kendall τ of the simulated length predictor in (0, 1], or 'oracle'",
        (o, t) => OptionValues.TauOrOracle(o, t) is { } tau ? tau.ToString("R", CultureInfo.InvariantCulture) : "oracle",
        () => SpecDefaults.PredictorTau is { } tau ? tau.ToString("R", CultureInfo.InvariantCulture) : "oracle",
        "τ|oracle");

    internal Option<string> Out { get; } = OptionValues.Scalar(
        "--out", "Directory for results.json, results.csv and the plots", (_, t) => t, () => DefaultOutputDirectory);

    internal Option<bool> Json { get; } = new("--json") { Description = "Print the results JSON on stdout instead of the table" };

    internal Option<int?> Parallel { get; } = OptionValues.Knob(
        "--parallel", "Runs executed in parallel (default: the number of CPUs)", OptionValues.Integer);

    internal Option<long> KvCapacity { get; } = OptionValues.Scalar(
        "--kv-capacity", "KV cache capacity per worker, in tokens", OptionValues.LongInteger, () => SpecDefaults.KvCapacityTokens);

    internal Option<int> Workers { get; } = OptionValues.Scalar(
        "--workers", "Workers in the simulated pool (one queue and policy, late binding); --load is of the pool's saturation", OptionValues.Integer, () => SpecDefaults.Workers);

    internal Option<string> Resume { get; } = OptionValues.ChoiceOption(
        "--resume", "A preempted request's KV cache: keep (while capacity allows) or recompute", ResumeModes, "keep");

    internal Option<string> LapsVariantOption { get; } = OptionValues.ChoiceOption(
        "--laps-variant", $"LAPS-SD: 'paper' is the literal reading (every knob at the paper's default: θ0 8 steps, point estimate, no reserved top queue, no prediction before stability); 'perceived' places a perceptible request in the band of its estimated remaining time (default {Lower(LapsDefaults.Variant)}, with the measured best knobs)",
        OptionValues.Variants, null);

    internal Option<string> LapsConditioning { get; } = OptionValues.ChoiceOption(
        "--laps-conditioning", $"LAPS-SD: how the length posterior conditions on the prediction (default {Lower(LapsDefaults.Conditioning)})", Conditionings, null);

    internal Option<string> LapsReserveTop { get; } = OptionValues.ChoiceOption(
        "--laps-reserve-top", "LAPS-SD: keep the top queue for first quanta (on|off; default on, paper off)", OnOff, null);

    internal Option<string> LapsPredictEarly { get; } = OptionValues.ChoiceOption(
        "--laps-predict-early", "LAPS-SD: order requests by prediction after their first quantum, before acceptance is stable (on|off; default on, paper off)", OnOff, null);

    internal Option<string> LapsCostAware { get; } = OptionValues.ChoiceOption(
        "--laps-cost-aware", "LAPS-SD: preempt a running request only when the gain exceeds its resume cost (on|off; default on, paper off)", OnOff, null);

    internal Option<double?> LapsAcceptancePrior { get; } = OptionValues.Knob(
        "--laps-acceptance-prior", $"LAPS-SD: weight of the prior acceptance in Â, in steps (default {Invariant(LapsDefaults.AcceptancePriorSteps)}, paper 0)", OptionValues.Number);

    internal Option<string> LapsEstimate { get; } = OptionValues.ChoiceOption(
        "--laps-estimate", $"LAPS-SD: how remaining time is estimated (default {Lower(LapsDefaults.Estimate)})", OptionValues.Estimates, null);

    internal Option<int?> LapsQueues { get; } = OptionValues.Knob(
        "--laps-queues", $"LAPS-SD: number of priority queues (default {LapsDefaults.Queues})", OptionValues.Integer);

    internal Option<double?> LapsTheta0 { get; } = OptionValues.Knob(
        "--laps-theta0", $"LAPS-SD: first threshold θ0, in steps of GPU time (default {Invariant(LapsDefaults.Theta0Steps)})", OptionValues.Number);

    internal Option<double?> LapsRatio { get; } = OptionValues.Knob(
        "--laps-ratio", $"LAPS-SD: threshold ratio r, θj = θ0·r^j (default {Invariant(LapsDefaults.Ratio)})", OptionValues.Number);

    internal Option<int?> LapsWindow { get; } = OptionValues.Knob(
        "--laps-window", $"LAPS-SD: stability window, in steps (default {LapsDefaults.StabilityWindow})", OptionValues.Integer);

    internal Option<double?> LapsTolerance { get; } = OptionValues.Knob(
        "--laps-tolerance", $"LAPS-SD: stability tolerance on the acceptance rate; 0 never stable, 'inf' always (default {Invariant(LapsDefaults.StabilityTolerance)})",
        OptionValues.NumberOrInfinity, "x|inf");

    internal Option<int?> LapsMinSteps { get; } = OptionValues.Knob(
        "--laps-min-steps", $"LAPS-SD: steps before a request may become perceptible (default {LapsDefaults.MinSteps})", OptionValues.Integer);

    internal Option<bool> LapsDemote { get; } = new("--laps-demote") { Description = "LAPS-SD: keep demoting by attained service after a request is perceptible" };

    internal Option<bool> LapsAging { get; } = new("--laps-aging") { Description = "LAPS-SD: enable the starvation guard (aging) with its defaults" };

    internal Option<bool> StarvationGuardFlag { get; } = new("--starvation-guard") { Description = "SJF and SRPT: enable the LTR-style starvation guard with its defaults" };

    internal Option<int?> MlfqLevels { get; } = OptionValues.Knob(
        "--mlfq-levels", $"MLFQ: number of levels (default {MlfqDefaults.Levels})", OptionValues.Integer);

    internal Option<double?> MlfqQuantum { get; } = OptionValues.Knob(
        "--mlfq-quantum", $"MLFQ: quantum of the top level, in steps (default {Invariant(MlfqDefaults.BaseQuantumSteps)})", OptionValues.Number);

    /// <summary>The real simulator.</summary>
    public static IReadOnlyList<RunResult> RunExperiment(ExperimentSpec spec, IProgress<RunResult>? progress, CancellationToken cancellationToken)
        => new ExperimentRunner(spec).Run(progress, cancellationToken);

    /// <summary>Runs the study <see cref="ExperimentRunner.Run"/> will report on (saturation measurements not counted).</summary>
    public static int TotalRuns(ExperimentSpec spec) => spec.Levels * spec.Batches.Count * spec.Seeds * spec.Policies.Count;

    /// <summary>Options → a validated study; <see cref="UsageException"/> names the option at fault.</summary>
    public SimInvocation Bind(ParseResult parseResult)
    {
        // The paper variant is the whole literal reading, not one knob: start from its preset.
        var laps = parseResult.GetValue(LapsVariantOption) is { } variant
            ? (OptionValues.Variants[variant] == LapsVariant.Paper ? LapsOptions.Paper : LapsDefaults with { Variant = OptionValues.Variants[variant] })
            : LapsDefaults;
        laps = parseResult.GetValue(LapsConditioning) is { } conditioning ? laps with { Conditioning = Conditionings[conditioning] } : laps;
        laps = parseResult.GetValue(LapsReserveTop) is { } reserve ? laps with { ReserveTopQueue = OnOff[reserve] } : laps;
        laps = parseResult.GetValue(LapsPredictEarly) is { } early ? laps with { PredictBeforeStable = OnOff[early] } : laps;
        laps = parseResult.GetValue(LapsCostAware) is { } costAware ? laps with { CostAwarePreemption = OnOff[costAware] } : laps;
        laps = parseResult.GetValue(LapsAcceptancePrior) is { } prior ? laps with { AcceptancePriorSteps = prior } : laps;
        laps = parseResult.GetValue(LapsEstimate) is { } estimate ? laps with { Estimate = OptionValues.Estimates[estimate] } : laps;
        laps = parseResult.GetValue(LapsQueues) is { } queues ? laps with { Queues = queues } : laps;
        laps = parseResult.GetValue(LapsTheta0) is { } theta0 ? laps with { Theta0Steps = theta0 } : laps;
        laps = parseResult.GetValue(LapsRatio) is { } ratio ? laps with { Ratio = ratio } : laps;
        laps = parseResult.GetValue(LapsWindow) is { } window ? laps with { StabilityWindow = window } : laps;
        laps = parseResult.GetValue(LapsTolerance) is { } tolerance ? laps with { StabilityTolerance = tolerance } : laps;
        laps = parseResult.GetValue(LapsMinSteps) is { } minSteps ? laps with { MinSteps = minSteps } : laps;
        laps = parseResult.GetValue(LapsDemote) ? laps with { DemoteAfterPerceptible = true } : laps;
        laps = parseResult.GetValue(LapsAging) ? laps with { Aging = new StarvationGuard() } : laps;
        Validated(laps.Validate, LapsOptionNames);

        var mlfq = MlfqDefaults;
        mlfq = parseResult.GetValue(MlfqLevels) is { } levels ? mlfq with { Levels = levels } : mlfq;
        mlfq = parseResult.GetValue(MlfqQuantum) is { } quantum ? mlfq with { BaseQuantumSteps = quantum } : mlfq;
        Validated(mlfq.Validate, MlfqOptionNames);

        var parallelism = parseResult.GetValue(Parallel) ?? SpecDefaults.Parallelism;
        if (parallelism < 1)
        {
            throw new UsageException($"--parallel: '{parallelism.ToString(CultureInfo.InvariantCulture)}' is out of range: must be >= 1");
        }

        var rates = parseResult.GetValue(Rates) is { Count: > 0 } given ? given : null;
        if (rates is not null && parseResult.GetResult(Loads) is { Implicit: false })
        {
            throw new UsageException("--rate: give either --rate or --load, not both");
        }

        var stepOverhead = parseResult.GetValue(StepOverhead);
        if (!(stepOverhead >= 0) || double.IsInfinity(stepOverhead))
        {
            throw new UsageException($"--step-overhead: '{stepOverhead.ToString(CultureInfo.InvariantCulture)}' is out of range: must be a number of seconds >= 0");
        }

        var spec = new ExperimentSpec
        {
            Workload = parseResult.GetValue(Workload) ?? DefaultWorkload,
            Proposer = OptionValues.Proposers[parseResult.GetValue(Proposer) ?? "eagle"],
            K = parseResult.GetValue(K),
            Arrivals = parseResult.GetValue(Arrivals) ?? SpecDefaults.Arrivals,
            Loads = parseResult.GetValue(Loads) ?? SpecDefaults.Loads,
            Rates = rates,
            StepTime = SpecDefaults.StepTime with { OverheadSeconds = SpecDefaults.StepTime.OverheadSeconds + stepOverhead },
            Predictor = Predictors[parseResult.GetValue(Predictor) ?? "noisy"],
            Batches = parseResult.GetValue(Batches) ?? SpecDefaults.Batches,
            Policies = parseResult.GetValue(Policies) ?? PolicyCatalog.Names,
            Requests = parseResult.GetValue(Requests),
            Seeds = parseResult.GetValue(Seeds),
            FirstSeed = parseResult.GetValue(FirstSeed),
            PredictorTau = OptionValues.TauOrOracle(PredictorTau.Name, parseResult.GetValue(PredictorTau) ?? "oracle"),
            PolicySettings = new PolicySettings
            {
                Laps = laps,
                Mlfq = mlfq,
                PredictedLengthGuard = parseResult.GetValue(StarvationGuardFlag) ? new StarvationGuard() : null,
            },
            KvCapacityTokens = parseResult.GetValue(KvCapacity),
            Resume = ResumeModes[parseResult.GetValue(Resume) ?? "keep"],
            Workers = parseResult.GetValue(Workers),
            Parallelism = parallelism,
        };
        Validated(spec.Validate, SpecOptionNames);

        return new SimInvocation(spec, parseResult.GetValue(Out) ?? DefaultOutputDirectory, parseResult.GetValue(Json));
    }

    internal int Execute(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stdout = parseResult.InvocationConfiguration.Output;
        var stderr = parseResult.InvocationConfiguration.Error;
        try
        {
            var invocation = Bind(parseResult);
            var results = Simulate(invocation, stderr, cancellationToken);
            Report(invocation, results, stdout, stderr);
            return ExitCodes.Success;
        }
        catch (Exception e) when (Unwrap(e) is UsageException usage)
        {
            stderr.WriteLine($"laps {CommandName}: {LapsCommand.OneLine(usage.Message)}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (IsBadInput(Unwrap(e)))
        {
            stderr.WriteLine($"laps {CommandName}: {Describe(Unwrap(e), SpecOptionNames)}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            stderr.WriteLine($"laps {CommandName}: cancelled");
            return ExitCodes.Cancelled;
        }
    }

    /// <summary>The one-line description of a bad-input exception, naming the option when its parameter maps to one.</summary>
    internal static string Describe(Exception e, IReadOnlyDictionary<string, string> optionNames)
    {
        var message = e.Message;
        if (e is not ArgumentException argument)
        {
            return LapsCommand.OneLine(message);
        }

        // ArgumentException appends " (Parameter 'x')" and ArgumentOutOfRangeException a line "Actual value was v.".
        message = message.Split('\n')[0].TrimEnd();
        if (argument.ParamName is { } parameter)
        {
            var suffix = $" (Parameter '{parameter}')";
            if (message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
        }

        if (argument.ParamName is null || !optionNames.TryGetValue(argument.ParamName, out var option))
        {
            return LapsCommand.OneLine(message);
        }

        return argument is ArgumentOutOfRangeException { ActualValue: { } actual }
            ? $"{option}: '{FormatValue(actual)}' is out of range: {LapsCommand.OneLine(message)}"
            : $"{option}: {LapsCommand.OneLine(message)}";
    }

    internal static bool IsBadInput(Exception e)
        => e is ArgumentException or FormatException or IOException or InvalidDataException or UnauthorizedAccessException
            or System.Text.Json.JsonException;

    // Parallel runs wrap what they throw; report the first cause.
    internal static Exception Unwrap(Exception e)
    {
        while (e is AggregateException aggregate && aggregate.InnerExceptions.Count > 0)
        {
            e = aggregate.InnerExceptions[0];
        }

        return e;
    }

    private static void Validated(Action validate, IReadOnlyDictionary<string, string> optionNames)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(Describe(e, optionNames), e);
        }
    }

    private IReadOnlyList<RunResult> Simulate(SimInvocation invocation, TextWriter stderr, CancellationToken cancellationToken)
    {
        // The bar only helps a person watching a terminal; JSON consumers and logs get none.
        var interactive = !invocation.Json && ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        if (!interactive)
        {
            return _executor(invocation.Spec, null, cancellationToken);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
        return console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("simulating", maxValue: TotalRuns(invocation.Spec));
                var progress = new SynchronousProgress<RunResult>(run =>
                {
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"{run.Policy} B={run.Batch} ρ={run.Load} seed {run.Seed}");
                    task.Increment(1);
                });
                return _executor(invocation.Spec, progress, cancellationToken);
            });
    }

    private static void Report(SimInvocation invocation, IReadOnlyList<RunResult> results, TextWriter stdout, TextWriter stderr)
    {
        Directory.CreateDirectory(invocation.OutputDirectory);
        ResultsFiles.Write(invocation.OutputDirectory, results);
        var plots = Plots.Write(invocation.OutputDirectory, results);
        if (invocation.Json)
        {
            stdout.WriteLine(ResultsFiles.ToJson(results));
            return;
        }

        SummaryTable.Write(SummaryTable.ConsoleFor(stdout), results);
        stderr.WriteLine($"wrote {ResultsFiles.JsonFileName}, {ResultsFiles.CsvFileName} and {plots.Count} plots to {invocation.OutputDirectory}");
    }

    private static string PolicyName(string option, string token)
        => PolicyCatalog.IsKnown(token)
            ? token
            : throw new UsageException($"{option}: unknown policy '{token}'; known: {string.Join(", ", PolicyCatalog.Names)}");

    private static string FormatValue(object value) => value switch
    {
        double d when double.IsPositiveInfinity(d) => "inf",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);

#pragma warning disable CA1308 // option values are lower-case words
    private static string Lower<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();
#pragma warning restore CA1308
}
