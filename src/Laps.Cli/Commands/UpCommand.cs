using System.CommandLine;
using System.Globalization;
using Laps.Scheduler;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using Laps.Simulation.Experiments;
using Laps.Simulation.Workloads;
using Laps.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Laps.Cli.Commands;

/// <summary>What `laps up` runs: N sim workers on loopback ports and a scheduler in front of them.</summary>
internal sealed record LocalPoolSettings(
    int Workers, string Host, int Port, string Policy, int Batch, string Workload, double TimeScale, ProposerKind Proposer,
    int K, int MaxQueued, string Model, string? LapsVariant, string? LapsEstimate);

/// <summary>A local pool in this process: the sim workers (gRPC on 127.0.0.1, any free port) and the sidecar.</summary>
internal sealed class LocalPool : IAsyncDisposable
{
    private readonly List<WebApplication> _workers = [];
    private WebApplication? _scheduler;

    public Uri Url { get; private set; } = null!;
    public IReadOnlyList<string> WorkerAddresses { get; private set; } = [];

    public static async Task<LocalPool> StartAsync(LocalPoolSettings settings, CancellationToken cancellationToken)
    {
        var pool = new LocalPool();
        try
        {
            var addresses = new List<string>();
            for (var i = 0; i < settings.Workers; i++)
            {
                var worker = WorkerHost.Build(
                    new SimWorkerOptions
                    {
                        WorkerId = string.Create(CultureInfo.InvariantCulture, $"sim-{i}"),
                        Workload = settings.Workload,
                        TimeScale = settings.TimeScale,
                        Proposer = settings.Proposer,
                        K = settings.K,
                        MaxBatch = Math.Max(64, settings.Batch),
                    },
                    "127.0.0.1",
                    0,
                    b => b.Logging.SetMinimumLevel(LogLevel.Warning));
                pool._workers.Add(worker);
                await worker.StartAsync(cancellationToken).ConfigureAwait(false);
                var bound = worker.BoundAddresses()[0];
                addresses.Add(string.Create(CultureInfo.InvariantCulture, $"{bound.Host}:{bound.Port}"));
            }

            var config = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                [SchedulerCommand.Key(nameof(SchedulerOptions.Policy))] = settings.Policy,
                [SchedulerCommand.Key(nameof(SchedulerOptions.Batch))] = settings.Batch.ToString(CultureInfo.InvariantCulture),
                [SchedulerCommand.Key(nameof(SchedulerOptions.MaxQueued))] = settings.MaxQueued.ToString(CultureInfo.InvariantCulture),
                [SchedulerCommand.Key(nameof(SchedulerOptions.Model))] = settings.Model,

                // The acceptance the simulator's policies assume for this proposer, so a local pool schedules as `laps sim`
                // predicts it.
                [SchedulerCommand.Key(nameof(SchedulerOptions.PriorAcceptance))] = ExperimentRunner.PriorAcceptance(settings.Proposer).ToString("R", CultureInfo.InvariantCulture),

                // Sim workers replay traces whose answers reach 8k tokens.
                [SchedulerCommand.Key(nameof(SchedulerOptions.MaxCompletionTokens))] = "16384",
                ["Logging:LogLevel:Default"] = "Warning",
            };
            if (settings.LapsVariant is { } variant)
            {
                config[SchedulerCommand.Key("Laps:Variant")] = variant;
            }

            if (settings.LapsEstimate is { } estimate)
            {
                config[SchedulerCommand.Key("Laps:Estimate")] = estimate;
            }

            for (var i = 0; i < addresses.Count; i++)
            {
                config[SchedulerCommand.Key(string.Create(CultureInfo.InvariantCulture, $"{nameof(SchedulerOptions.Workers)}:{i}"))] = addresses[i];
            }

            var url = string.Create(CultureInfo.InvariantCulture, $"http://{settings.Host}:{settings.Port}");
            pool._scheduler = SchedulerCommand.BuildApp(new SchedulerInvocation(config, url));
            await pool._scheduler.StartAsync(cancellationToken).ConfigureAwait(false);
            pool.Url = new Uri(pool._scheduler.Urls.First());
            pool.WorkerAddresses = addresses;
            return pool;
        }
        catch
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The scheduler's options as it runs with them.</summary>
    internal SchedulerOptions SchedulerOptions => _scheduler!.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SchedulerOptions>>().Value;

    /// <summary>Stops the worker at <paramref name="index"/> (for fault tests), as if its pod went away.</summary>
    public async Task StopWorkerAsync(int index) => await _workers[index].StopAsync().ConfigureAwait(false);

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

        foreach (var worker in _workers)
        {
            await worker.StopAsync().ConfigureAwait(false);
            await worker.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>
/// <c>laps up</c>: a local pool on this machine, no cluster and no GPU: a scheduler sidecar serving the OpenAI API
/// (default http://127.0.0.1:8080, with /metrics) in front of N sim workers.
/// </summary>
internal sealed class UpCommand : Command
{
    public const string CommandName = "up";

    public UpCommand()
        : base(CommandName, "Start a local pool: the scheduler sidecar and N sim workers, serving the OpenAI API.")
    {
        foreach (var option in new Option[] { Workers, Port, Host, Policy, Batch, Workload, TimeScale, Proposer, K, MaxQueued, Model, LapsVariantOption, LapsEstimate })
        {
            Options.Add(option);
        }

        SetAction(ExecuteAsync);
    }

    internal Option<int> Workers { get; } = OptionValues.Scalar("--workers", "Sim workers to start", OptionValues.Integer, () => 2);
    internal Option<int> Port { get; } = OptionValues.Scalar("--port", "Port of the OpenAI API (0: any free port)", OptionValues.Integer, () => 8080);
    internal Option<string> Host { get; } = OptionValues.Scalar("--host", "Address of the OpenAI API", (_, t) => t, () => "127.0.0.1");
    internal Option<string> Policy { get; } = OptionValues.Scalar("--policy", $"Scheduling policy, one of {string.Join(", ", PolicyCatalog.Names)}", (_, t) => t, () => LapsPolicy.PolicyName, "name");
    internal Option<int> Batch { get; } = OptionValues.Scalar("--batch", "Sequences per step on each worker", OptionValues.Integer, () => 8);
    internal Option<string> Workload { get; } = OptionValues.Scalar("--workload", "The sim workers' acceptance: a trace (replayed when a prompt matches) and/or a built-in profile", (_, t) => t, () => "chat");
    internal Option<double> TimeScale { get; } = OptionValues.Scalar("--time-scale", "Speed-up of the sim workers' step time (1: real time)", OptionValues.Number, () => 1);
    internal Option<string> Proposer { get; } = OptionValues.ChoiceOption("--proposer", "eagle, ngram or draft", OptionValues.Proposers, "eagle");
    internal Option<int> K { get; } = OptionValues.Scalar("--k", "Speculation length", OptionValues.Integer, () => 4);
    internal Option<int> MaxQueued { get; } = OptionValues.Scalar("--max-queued", "Waiting requests before 429", OptionValues.Integer, () => 256);
    internal Option<string> Model { get; } = OptionValues.Scalar("--model", "The model name served", (_, t) => t, () => "laps-sim");
    internal Option<string> LapsVariantOption { get; } = OptionValues.ChoiceOption("--laps-variant", "LAPS-SD: paper or perceived", OptionValues.Variants, null);
    internal Option<string> LapsEstimate { get; } = OptionValues.ChoiceOption("--laps-estimate", "LAPS-SD: point, posterior or gittins", OptionValues.Estimates, null);

    internal LocalPoolSettings Bind(ParseResult parseResult)
    {
        var workers = parseResult.GetValue(Workers);
        if (workers is < 1 or > 64)
        {
            throw new UsageException($"--workers: '{workers}' is out of range: must be in 1..64");
        }

        var port = parseResult.GetValue(Port);
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"--port: '{port}' is out of range: must be in 0..65535");
        }

        var policy = parseResult.GetValue(Policy)!;
        if (!PolicyCatalog.IsKnown(policy))
        {
            throw new UsageException($"--policy: unknown policy '{policy}'; known: {string.Join(", ", PolicyCatalog.Names)}");
        }

        var timeScale = parseResult.GetValue(TimeScale);
        if (!(timeScale > 0) || double.IsInfinity(timeScale))
        {
            throw new UsageException($"--time-scale: '{timeScale.ToString(CultureInfo.InvariantCulture)}' is out of range: must be a positive number");
        }

        var batch = parseResult.GetValue(Batch);
        if (batch < 1)
        {
            throw new UsageException($"--batch: '{batch}' is out of range: must be >= 1");
        }

        var workload = parseResult.GetValue(Workload)!;
        _ = WorkloadSpec.Parse(workload); // names a bad profile or a missing file now, not in a worker
        return new LocalPoolSettings(
            workers, parseResult.GetValue(Host)!, port, policy, batch, workload, timeScale, OptionValues.Proposers[parseResult.GetValue(Proposer)!],
            parseResult.GetValue(K), parseResult.GetValue(MaxQueued), parseResult.GetValue(Model)!,
            parseResult.GetValue(LapsVariantOption) is { } v ? OptionValues.Variants[v].ToString() : null,
            parseResult.GetValue(LapsEstimate) is { } e ? OptionValues.Estimates[e].ToString() : null);
    }

    private async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stdout = parseResult.InvocationConfiguration.Output;
        var stderr = parseResult.InvocationConfiguration.Error;
        try
        {
            var settings = Bind(parseResult);
            await using var pool = await LocalPool.StartAsync(settings, cancellationToken).ConfigureAwait(false);
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"laps up: OpenAI API on {pool.Url} (metrics at {pool.Url}metrics), policy {settings.Policy}, batch {settings.Batch}, {settings.Workers} sim workers at {string.Join(", ", pool.WorkerAddresses)}; Ctrl+C stops")).ConfigureAwait(false);
            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await pool.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (UsageException e)
        {
            await stderr.WriteLineAsync($"laps {CommandName}: {LapsCommand.OneLine(e.Message)}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (Exception e) when (SimCommand.IsBadInput(SimCommand.Unwrap(e)) || e is Microsoft.Extensions.Options.OptionsValidationException)
        {
            await stderr.WriteLineAsync($"laps {CommandName}: {LapsCommand.OneLine(SimCommand.Unwrap(e).Message)}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
    }
}
