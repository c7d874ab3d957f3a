using System.CommandLine;
using System.Globalization;
using Laps.Emulation;
using Laps.Scheduler;
using Laps.Scheduling.Estimation;
using Laps.Simulation.Experiments;
using Laps.Simulation.Workloads;
using Laps.Worker;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Cli.Commands;

/// <summary>
/// What `laps up` runs: N workers on loopback ports and a scheduler in front of them. <paramref name="Engine"/> null:
/// sim workers; vLLM or SGLang: each worker is the engine adapter in front of an emulated engine whose batch cap is
/// the pool's batch, with the engine's metrics proxy beside it (as an engine pod runs them).
/// </summary>
internal sealed record LocalPoolSettings(
    int Workers, string Workload, double TimeScale, ProposerKind Proposer, int K, int Batch, SchedulerInvocation Scheduler, EngineKind? Engine = null);

/// <summary>
/// A local pool in this process: the workers (gRPC on 127.0.0.1, any free port) and the sidecar, which share a worker
/// token drawn for the run, so that nothing else on the machine can call the workers.
/// </summary>
internal sealed class LocalPool : IAsyncDisposable
{
    private readonly List<(Func<Task> Stop, IAsyncDisposable Host)> _workers = [];
    private WebApplication? _scheduler;

    public Uri Url { get; private set; } = null!;
    public IReadOnlyList<string> WorkerAddresses { get; private set; } = [];

    /// <summary>The emulated engines' HTTP base addresses (their API and <c>/metrics</c>), one per worker; empty for sim workers.</summary>
    public IReadOnlyList<Uri> EngineUrls { get; private set; } = [];

    /// <summary>
    /// Each adapter's engine metrics proxy (<c>laps worker --engine-metrics-port</c>: the engine's <c>/metrics</c>, where
    /// Prometheus scrapes an engine pod), one per worker; empty for sim workers.
    /// </summary>
    public IReadOnlyList<Uri> EngineMetricsUrls { get; private set; } = [];

    public static async Task<LocalPool> StartAsync(LocalPoolSettings settings, CancellationToken cancellationToken)
    {
        var pool = new LocalPool();
        var token = WorkerToken.Of(WorkerToken.Generate());
        try
        {
            var addresses = new List<string>();
            var engines = new List<Uri>();
            var engineMetrics = new List<Uri>();
            for (var i = 0; i < settings.Workers; i++)
            {
                var model = new SimWorkerOptions
                {
                    WorkerId = string.Create(CultureInfo.InvariantCulture, $"{(settings.Engine is { } e ? e.ToString().ToLowerInvariant() : "sim")}-{i}"),
                    Workload = settings.Workload,
                    TimeScale = settings.TimeScale,
                    Proposer = settings.Proposer,
                    K = settings.K,
                    MaxBatch = settings.Batch > 0 ? Math.Max(64, settings.Batch) : 64,
                };
                Uri bound;
                if (settings.Engine is { } engine)
                {
                    var emulated = await EmulatedEngineWorker.StartAsync(
                        new EmulatorOptions { Engine = engine, Model = model, MaxRunning = settings.Batch > 0 ? settings.Batch : EmulatorOptions.DefaultMaxRunning },
                        model.WorkerId,
                        configure: b => b.Logging.SetMinimumLevel(LogLevel.Warning),
                        token: _ => token,
                        engineMetricsPort: 0,
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                    pool._workers.Add((() => emulated.Worker.StopAsync(), emulated));
                    engines.Add(emulated.EngineAddress);
                    engineMetrics.Add(emulated.EngineMetricsUrl!);
                    bound = emulated.WorkerAddress;
                }
                else
                {
                    var worker = WorkerHost.Build(model, "127.0.0.1", 0, b => b.Logging.SetMinimumLevel(LogLevel.Warning), _ => token);
                    pool._workers.Add((() => worker.StopAsync(), worker));
                    await worker.StartAsync(cancellationToken).ConfigureAwait(false);
                    bound = worker.BoundAddresses()[0];
                }

                addresses.Add(string.Create(CultureInfo.InvariantCulture, $"{bound.Host}:{bound.Port}"));
            }

            var scheduler = new Dictionary<string, string?>(settings.Scheduler.Settings, StringComparer.Ordinal);
            for (var i = 0; i < addresses.Count; i++)
            {
                scheduler[SidecarOptions.Key(string.Create(CultureInfo.InvariantCulture, $"{nameof(SchedulerOptions.Workers)}:{i}"))] = addresses[i];
            }

            pool._scheduler = SchedulerCommand.BuildApp(settings.Scheduler with { Settings = scheduler }, token);
            await pool._scheduler.StartAsync(cancellationToken).ConfigureAwait(false);
            pool.Url = new Uri(pool._scheduler.Urls.First());
            pool.WorkerAddresses = addresses;
            pool.EngineUrls = engines;
            pool.EngineMetricsUrls = engineMetrics;
            return pool;
        }
        catch
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The scheduler's options as it runs with them.</summary>
    internal SchedulerOptions SchedulerOptions => _scheduler!.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;

    /// <summary>Stops the worker at <paramref name="index"/> (for fault tests), as if its pod went away.</summary>
    public async Task StopWorkerAsync(int index) => await _workers[index].Stop().ConfigureAwait(false);

    public async Task WaitForShutdownAsync(CancellationToken cancellationToken)
        => await _scheduler!.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        // The scheduler first: it drains its requests while the workers still answer.
        if (_scheduler is not null)
        {
            await _scheduler.StopAsync().ConfigureAwait(false);
            await _scheduler.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var (stop, host) in _workers)
        {
            await stop().ConfigureAwait(false);
            await host.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>
/// <c>laps up</c>: a local pool on this machine, no cluster and no GPU: a scheduler sidecar serving the OpenAI API
/// (default http://127.0.0.1:8080, with /metrics) in front of N sim workers. It takes the scheduler's options as
/// <c>laps scheduler</c> does, and the workers' own.
/// </summary>
internal sealed class UpCommand : Command
{
    public const string CommandName = "up";

    public UpCommand()
        : base(CommandName, "Start a local pool: the scheduler sidecar and N sim workers, serving the OpenAI API.")
    {
        foreach (var option in new Option[] { Engine, Workers, Workload, TimeScale, Proposer, K })
        {
            Options.Add(option);
        }

        Sidecar.AddTo(this);
        SetAction(ExecuteAsync);
    }

    /// <summary>The options shared with <c>laps scheduler</c>.</summary>
    internal SidecarOptions Sidecar { get; } = new();

    internal Option<string> Engine { get; } = OptionValues.ChoiceOption(
        "--engine", "The workers' engine: the built-in sim, or the vLLM or SGLang adapter in front of an emulated engine (laps emulate)", WorkerCommand.Engines, "sim");

    internal Option<int> Workers { get; } = OptionValues.Scalar("--workers", "Workers to start", OptionValues.Integer, () => 2);
    internal Option<string> Workload { get; } = OptionValues.Scalar("--workload", "The sim workers' acceptance: a trace (replayed when a prompt matches) and/or a built-in profile", (_, t) => t, () => "chat");
    internal Option<double> TimeScale { get; } = OptionValues.Scalar("--time-scale", "Speed-up of the sim workers' step time (1: real time)", OptionValues.Number, () => 1);
    internal Option<string> Proposer { get; } = OptionValues.ChoiceOption("--proposer", "The sim workers' draft proposer", OptionValues.Proposers, "eagle");
    internal Option<int> K { get; } = OptionValues.Scalar("--k", "Speculation length", OptionValues.Integer, () => 4);

    /// <summary>The settings of <c>laps up</c> with these arguments (for tests); <see cref="UsageException"/> when they are bad.</summary>
    internal static LocalPoolSettings Parse(params string[] args)
    {
        var parseResult = new LapsCommand().Parse([CommandName, .. args]);
        if (parseResult.Errors.Count > 0)
        {
            throw new UsageException(string.Join("; ", parseResult.Errors.Select(e => e.Message)));
        }

        return ((UpCommand)parseResult.CommandResult.Command).Bind(parseResult);
    }

    internal LocalPoolSettings Bind(ParseResult parseResult)
    {
        var workers = parseResult.GetValue(Workers);
        if (workers is < 1 or > 64)
        {
            throw new UsageException($"--workers: '{workers}' is out of range: must be in 1..64");
        }

        var timeScale = parseResult.GetValue(TimeScale);
        if (!(timeScale > 0) || double.IsInfinity(timeScale))
        {
            throw new UsageException($"--time-scale: '{timeScale.ToString(CultureInfo.InvariantCulture)}' is out of range: must be a positive number");
        }

        var workload = parseResult.GetValue(Workload)!;
        try
        {
            _ = WorkloadSpec.Parse(workload); // names a bad profile or a missing file now, not in a worker
        }
        catch (Exception e) when (SimCommand.IsBadInput(e))
        {
            throw new UsageException($"--workload: {e.Message}", e);
        }

        var proposer = OptionValues.Proposers[parseResult.GetValue(Proposer)!];
        var defaults = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            // The acceptance the simulator's policies assume for this proposer, so a local pool schedules as `laps sim`
            // predicts it.
            [SidecarOptions.Key(nameof(SchedulerOptions.PriorAcceptance))] = ExperimentRunner.PriorAcceptance(proposer).ToString("R", CultureInfo.InvariantCulture),

            // Sim workers replay traces whose answers reach 8k tokens.
            [SidecarOptions.Key(nameof(SchedulerOptions.MaxCompletionTokens))] = "16384",
            ["Logging:LogLevel:Default"] = "Warning",
        };

        // The workers' addresses are known once they listen; the check stands in one for them.
        var (scheduler, options) = Sidecar.Bind(
            parseResult, new Dictionary<string, string?>(), new Dictionary<string, string>(), defaults,
            new Dictionary<string, string?> { [SidecarOptions.Key($"{nameof(SchedulerOptions.Workers)}:0")] = "127.0.0.1:1" });
        var engine = WorkerCommand.Engines[parseResult.GetValue(Engine) ?? "sim"];
        return new LocalPoolSettings(workers, workload, timeScale, proposer, parseResult.GetValue(K), options.Batch, scheduler, engine);
    }

    private async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stdout = parseResult.InvocationConfiguration.Output;
        var settings = Bind(parseResult);
        try
        {
            await using var pool = await LocalPool.StartAsync(settings, cancellationToken).ConfigureAwait(false);
            var options = pool.SchedulerOptions;
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"laps up: OpenAI API on {pool.Url} (metrics at {pool.Url}metrics), policy {options.Policy}, batch {(options.Batch > 0 ? options.Batch.ToString(CultureInfo.InvariantCulture) : "each worker's maximum")}, {settings.Workers} {(settings.Engine is { } kind ? kind.ToString().ToLowerInvariant() + " (emulated) adapter" : "sim")} workers at {string.Join(", ", pool.WorkerAddresses)}{(pool.EngineMetricsUrls.Count > 0 ? $" (engine metrics at {string.Join(", ", pool.EngineMetricsUrls)})" : "")}; Ctrl+C stops")).ConfigureAwait(false);
            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await pool.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
        catch (Exception e) when (SimCommand.IsBadInput(SimCommand.Unwrap(e)))
        {
            // A port in use, a trace a worker cannot read.
            throw new UsageException(SimCommand.Unwrap(e).Message, e);
        }
    }
}
