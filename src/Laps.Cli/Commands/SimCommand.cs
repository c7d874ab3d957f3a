using System.CommandLine;
using System.Globalization;
using Laps.Cli.Reports;
using Laps.Scheduler;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Simulation.Experiments;
using Microsoft.Extensions.Configuration;
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

    private static readonly Dictionary<string, ResumeMode> ResumeModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["keep"] = ResumeMode.Keep,
        ["recompute"] = ResumeMode.Recompute,
    };

    private static readonly Dictionary<string, LengthPredictorKind> Predictors = new(StringComparer.OrdinalIgnoreCase)
    {
        ["noisy"] = LengthPredictorKind.NoisyOracle,
        ["online"] = LengthPredictorKind.Online,
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
        [nameof(ExperimentSpec.Tenants)] = "--tenants",
        [nameof(ExperimentSpec.TenantSkew)] = "--tenant-skew",
    };

    private readonly ExperimentExecutor _executor;

    public SimCommand(ExperimentExecutor executor)
        : base(CommandName, "Run the discrete-event simulator over loads × batches × seeds × policies and report latency.")
    {
        _executor = executor;
        Option[] options =
        [
            Workload, Proposer, K, Arrivals, Loads, Rates, StepOverhead, Batches, Policies, Requests, Seeds, FirstSeed, Predictor, PredictorTau, Out,
            Json, Parallel, KvCapacity, Resume, Workers, Tenants, TenantSkew, FairShare, .. Knobs.Values,
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

    internal Option<int> Tenants { get; } = OptionValues.Scalar(
        "--tenants", "Tenants the requests come from (t0, t1, ...): each request's tenant is drawn with probability ∝ skew^i", OptionValues.Integer, () => SpecDefaults.Tenants);

    internal Option<double> TenantSkew { get; } = OptionValues.Scalar(
        "--tenant-skew", "Each tenant's share of the arrivals relative to the one before (1: equal; 0.25 with 2 tenants: 80%/20%)", OptionValues.Number, () => SpecDefaults.TenantSkew);

    internal Option<string> FairShare { get; } = SidecarOptions.FairShareOption();

    internal Option<string> Resume { get; } = OptionValues.ChoiceOption(
        "--resume", "A preempted request's KV cache: keep (while capacity allows) or recompute", ResumeModes, "keep");

    /// <summary>One option per policy knob of the table (policies and batches are lists here, not knobs).</summary>
    internal IReadOnlyDictionary<SchedulerKnob, Option<string>> Knobs { get; } = SchedulerKnobs.PolicyKnobs.ToDictionary(k => k, OptionValues.KnobOption);

    /// <summary>The real simulator.</summary>
    public static IReadOnlyList<RunResult> RunExperiment(ExperimentSpec spec, IProgress<RunResult>? progress, CancellationToken cancellationToken)
        => new ExperimentRunner(spec).Run(progress, cancellationToken);

    /// <summary>Runs the study <see cref="ExperimentRunner.Run"/> will report on (saturation measurements not counted).</summary>
    public static int TotalRuns(ExperimentSpec spec) => spec.Levels * spec.Batches.Count * spec.Seeds * spec.Policies.Count;

    /// <summary>Options → a validated study; <see cref="UsageException"/> names the option at fault.</summary>
    public SimInvocation Bind(ParseResult parseResult)
    {
        // The knobs given, bound as the sidecar binds its configuration: one meaning for each, "paper" included.
        var knobs = new ConfigurationBuilder().AddInMemoryCollection(Knobs
            .Select(k => (k.Key, Word: OptionValues.GivenKnob(parseResult, k.Value)))
            .Where(k => k.Word is not null)
            .Select(k => KeyValuePair.Create(SidecarOptions.Key(k.Key.Key), (string?)k.Key.ToConfig(k.Word!)))).Build();
        var policy = new SchedulerOptions();
        SchedulerOptions.Bind(knobs.GetSection(SchedulerOptions.SectionName), policy);
        Validated(policy.Laps.Validate, KnobOptionNames("Laps:"));
        Validated(policy.Mlfq.Validate, KnobOptionNames("Mlfq:"));
        Validated(() => policy.StarvationGuard?.Validate(), KnobOptionNames(""));

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
            PolicySettings = policy.PolicySettings,
            KvCapacityTokens = parseResult.GetValue(KvCapacity),
            Resume = ResumeModes[parseResult.GetValue(Resume) ?? "keep"],
            Workers = parseResult.GetValue(Workers),
            Tenants = parseResult.GetValue(Tenants),
            TenantSkew = parseResult.GetValue(TenantSkew),
            FairShare = parseResult.GetValue(FairShare) != "off",
            Parallelism = parallelism,
        };
        Validated(spec.Validate, SpecOptionNames);

        var output = parseResult.GetValue(Out) ?? DefaultOutputDirectory;
        EnsureWritable(output);
        return new SimInvocation(spec, output, parseResult.GetValue(Json));
    }

    /// <summary>Creates the --out directory and proves it writable now, not after a long simulation.</summary>
    private void EnsureWritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".laps-write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, string.Empty);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"{Out.Name}: '{directory}' is not a writable directory: {LapsCommand.OneLine(e.Message)}", e);
        }
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
        catch (Exception e) when (IsBadInput(Unwrap(e)))
        {
            // Bad input found while simulating (a trace, an arrivals file).
            throw new UsageException(Describe(Unwrap(e), SpecOptionNames), e);
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
        if (results.Any(r => r.Tenants is not null))
        {
            SummaryTable.ConsoleFor(stdout).Write(TenantTable.Build(results));
        }

        stderr.WriteLine($"wrote {ResultsFiles.JsonFileName}, {ResultsFiles.CsvFileName} and {plots.Count} plots to {invocation.OutputDirectory}");
    }

    private static string PolicyName(string option, string token)
        => PolicyCatalog.IsKnown(token)
            ? token
            : throw new UsageException($"{option}: unknown policy '{token}'; known: {string.Join(", ", PolicyCatalog.Names)}");

    // A knob's property name (Queues, as the options' Validate names it) → its option.
    private Dictionary<string, string> KnobOptionNames(string section)
        => Knobs.Keys.Where(k => k.Key.StartsWith(section, StringComparison.Ordinal)).ToDictionary(k => k.Key[section.Length..], k => k.Option, StringComparer.Ordinal);

    private static string FormatValue(object value) => value switch
    {
        double d when double.IsPositiveInfinity(d) => "inf",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

}
