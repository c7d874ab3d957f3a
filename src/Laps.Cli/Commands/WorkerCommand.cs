using System.CommandLine;
using System.Globalization;
using System.Net;
using Laps.Scheduling.Estimation;
using Laps.Simulation.Workloads;
using Laps.Worker;
using Laps.Worker.Engines;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Laps.Cli.Commands;

/// <summary>
/// <c>laps worker</c>: one worker serving the SpeculativeWorker gRPC protocol over HTTP/2 without TLS (h2c) until
/// Ctrl+C or SIGTERM, which drain in-flight calls: the sim engine, or an adapter in front of a vLLM or SGLang server
/// (<c>--engine vllm|sglang --engine-url URL</c>). With <c>--token-file</c> every call must carry the pool's worker token.
/// An adapter with <c>--engine-metrics-port</c> also serves the engine's <c>/metrics</c> there (<see cref="EngineMetricsProxy"/>).
/// Options are validated before anything listens.
/// </summary>
internal sealed class WorkerCommand : Command
{
    public const string CommandName = "worker";
    public const int DefaultPort = 50051;
    public const string DefaultHost = "127.0.0.1";

    private static readonly SimWorkerOptions Defaults = new();

    // Validate() names the property it rejects; these say which option set it.
    private static readonly Dictionary<string, string> OptionNames = new(StringComparer.Ordinal)
    {
        [nameof(SimWorkerOptions.WorkerId)] = "--worker-id",
        [nameof(SimWorkerOptions.K)] = "--k",
        [nameof(SimWorkerOptions.MaxBatch)] = "--max-batch",
        [nameof(SimWorkerOptions.MaxStepsPerCall)] = "--max-steps",
        [nameof(SimWorkerOptions.KvCapacityTokens)] = "--kv-capacity",
        [nameof(SimWorkerOptions.TimeScale)] = "--time-scale",
        [nameof(SimWorkerOptions.Workload)] = "--workload",
    };

    public WorkerCommand()
        : base(CommandName, "Serve one sim worker (SpeculativeWorker gRPC, h2c): an SSM/LLM pair emulated in real time with the step-time model.")
    {
        Option[] options = [Port, Host, TokenFile, Engine, EngineUrl, EngineMetricsPort, Workload, TimeScale, Proposer, K, MaxBatch, MaxSteps, KvCapacity, WorkerId];
        foreach (var option in options)
        {
            Options.Add(option);
        }

        SetAction((parseResult, cancellationToken) => ExecuteAsync(parseResult, cancellationToken));
    }

    internal Option<int> Port { get; } = OptionValues.Scalar(
        "--port", "TCP port to listen on (0: any free port)", OptionValues.Integer, () => DefaultPort);

    internal Option<string> Host { get; } = OptionValues.Scalar(
        "--host", "Address to listen on: an IP address or 'localhost' (0.0.0.0 in containers)", (_, t) => t, () => DefaultHost);

    internal Option<string?> TokenFile { get; } = new("--token-file")
    {
        Description = "A file holding the pool's worker token: every call must carry it (gRPC metadata 'authorization: Bearer <token>'); read again when it changes. Without it the worker accepts any caller",
        HelpName = "path",
    };

    internal static readonly IReadOnlyDictionary<string, EngineKind?> Engines = new Dictionary<string, EngineKind?>(StringComparer.OrdinalIgnoreCase)
    {
        ["sim"] = null,
        ["vllm"] = EngineKind.Vllm,
        ["sglang"] = EngineKind.Sglang,
    };

    internal Option<string> Engine { get; } = OptionValues.ChoiceOption(
        "--engine", "The engine: the built-in sim, or an adapter driving a vLLM or SGLang server over its HTTP API", Engines, "sim");

    internal Option<string?> EngineUrl { get; } = OptionValues.Scalar<string?>(
        "--engine-url", "The engine's HTTP address (vllm: http://127.0.0.1:8000, sglang: http://127.0.0.1:30000 unless given)", (_, t) => t, () => null, "URL");

    internal Option<int?> EngineMetricsPort { get; } = OptionValues.Knob<int>(
        "--engine-metrics-port", "Serve the engine's GET /metrics on this TCP port of --host, no token (vllm and sglang; 0: any free port; unset: not served)",
        OptionValues.Integer, "port");

    internal Option<string> Workload { get; } = OptionValues.Scalar(
        "--workload", "Trace files whose prompts are replayed (compact or SpecDecode-Bench JSONL) and/or a built-in profile for other prompts, comma-separated",
        (_, t) => t, () => Defaults.Workload, "trace|profile[,...]");

    internal Option<double> TimeScale { get; } = OptionValues.Scalar(
        "--time-scale", "Run this many times faster than the step-time model (1: real time)", OptionValues.Number, () => Defaults.TimeScale);

    internal Option<string> Proposer { get; } = OptionValues.ChoiceOption(
        "--proposer", "Draft proposer: an EAGLE head, prompt-lookup n-grams, or a separate draft model", OptionValues.Proposers, "eagle");

    internal Option<int> K { get; } = OptionValues.Scalar(
        "--k", "Speculation length k (drafted tokens per step)", OptionValues.Integer, () => Defaults.K);

    internal Option<int> MaxBatch { get; } = OptionValues.Scalar(
        "--max-batch", "Most sequences in one Step", OptionValues.Integer, () => Defaults.MaxBatch);

    internal Option<int> MaxSteps { get; } = OptionValues.Scalar(
        "--max-steps", "Most SD steps in one Step call", OptionValues.Integer, () => Defaults.MaxStepsPerCall);

    internal Option<long> KvCapacity { get; } = OptionValues.Scalar(
        "--kv-capacity", "KV cache capacity in tokens", OptionValues.LongInteger, () => Defaults.KvCapacityTokens);

    internal Option<string> WorkerId { get; } = OptionValues.Scalar(
        "--worker-id", "Worker id reported by Describe (the host name, i.e. the pod name, unless given)", (_, t) => t, () => Environment.MachineName);

    /// <summary>Options → validated worker options and endpoint; <see cref="UsageException"/> names the option at fault.</summary>
    public WorkerInvocation Bind(ParseResult parseResult)
    {
        var port = parseResult.GetValue(Port);
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"--port: '{port.ToString(CultureInfo.InvariantCulture)}' is out of range: must be in 0..65535");
        }

        var host = parseResult.GetValue(Host) ?? DefaultHost;
        try
        {
            WorkerHost.ParseHost(host);
        }
        catch (FormatException e)
        {
            throw new UsageException("--host: " + e.Message, e);
        }

        var tokenFile = parseResult.GetValue(TokenFile);
        if (tokenFile is not null)
        {
            try
            {
                WorkerToken.FromFile(tokenFile); // a missing, empty or malformed file stops the worker before it listens
            }
            catch (WorkerTokenException e)
            {
                throw new UsageException("--token-file: " + e.Message, e);
            }
        }

        var options = new SimWorkerOptions
        {
            WorkerId = parseResult.GetValue(WorkerId) ?? Environment.MachineName,
            Proposer = OptionValues.Proposers[parseResult.GetValue(Proposer) ?? "eagle"],
            K = parseResult.GetValue(K),
            MaxBatch = parseResult.GetValue(MaxBatch),
            MaxStepsPerCall = parseResult.GetValue(MaxSteps),
            KvCapacityTokens = parseResult.GetValue(KvCapacity),
            TimeScale = parseResult.GetValue(TimeScale),
            Workload = parseResult.GetValue(Workload) ?? Defaults.Workload,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(SimCommand.Describe(e, OptionNames), e);
        }

        var engine = Engines[parseResult.GetValue(Engine) ?? "sim"];
        var metricsPort = parseResult.GetValue(EngineMetricsPort);
        if (engine is null)
        {
            if (metricsPort is not null)
            {
                throw new UsageException("--engine-metrics-port: the sim engine has no engine metrics to serve; give --engine vllm or --engine sglang");
            }

            return parseResult.GetValue(EngineUrl) is null
                ? new WorkerInvocation(options, host, port) { TokenFile = tokenFile }
                : throw new UsageException("--engine-url: the sim engine has no URL; give --engine vllm or --engine sglang");
        }

        if (metricsPort is < 0 or > 65535)
        {
            throw new UsageException($"--engine-metrics-port: '{metricsPort.Value.ToString(CultureInfo.InvariantCulture)}' is out of range: must be in 0..65535");
        }

        if (metricsPort is > 0 && metricsPort == port)
        {
            throw new UsageException($"--engine-metrics-port: '{port.ToString(CultureInfo.InvariantCulture)}' is the worker's --port: give another port");
        }

        var url = parseResult.GetValue(EngineUrl) ?? (engine == EngineKind.Vllm ? "http://127.0.0.1:8000" : "http://127.0.0.1:30000");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var engineUrl) || (engineUrl.Scheme != Uri.UriSchemeHttp && engineUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"--engine-url: '{url}' is not an http(s) URL");
        }

        var adapter = new EngineWorkerOptions
        {
            Engine = engine.Value,
            EngineUrl = engineUrl,
            WorkerId = options.WorkerId,
            Proposer = options.Proposer,
            K = options.K,
            MaxBatch = options.MaxBatch,
            MaxStepsPerCall = options.MaxStepsPerCall,
            KvCapacityTokens = options.KvCapacityTokens,
        };
        return new WorkerInvocation(options, host, port) { Engine = adapter, TokenFile = tokenFile, EngineMetricsPort = metricsPort };
    }

    internal async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stdout = parseResult.InvocationConfiguration.Output;
        var invocation = Bind(parseResult);
        Func<IServiceProvider, WorkerToken>? token = invocation.TokenFile is { } tokenFile
            ? services => WorkerToken.FromFile(tokenFile, services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<WorkerToken>>())
            : null;
        WebApplication app;
        try
        {
            app = invocation.Engine is { } adapter
                ? EngineWorkerHost.Build(adapter, invocation.Host, invocation.Port, ConfigureLogging, token)
                : WorkerHost.Build(invocation.Options, invocation.Host, invocation.Port, ConfigureLogging, token);
        }
        catch (WorkloadFormatException e)
        {
            throw new UsageException("--workload: " + e.Message, e);
        }

        var metrics = invocation is { Engine: { } proxied, EngineMetricsPort: { } metricsPort }
            ? EngineMetricsProxy.Build(proxied.EngineUrl, invocation.Host, metricsPort, ConfigureLogging)
            : null;
        await using (app.ConfigureAwait(false))
        {
            try
            {
                if (!await Listening.StartAsync(() => app.StartAsync(cancellationToken), invocation.Host, invocation.Port, cancellationToken).ConfigureAwait(false)
                    || (metrics is not null && !await Listening.StartAsync(
                        () => metrics.StartAsync(cancellationToken), invocation.Host, invocation.EngineMetricsPort!.Value, cancellationToken, "--engine-metrics-port").ConfigureAwait(false)))
                {
                    return ExitCodes.Success;
                }

                var o = invocation.Options;
                var callers = invocation.TokenFile is { } file ? $"; calls need the worker token in {file}" : "; any caller is accepted";
                var engineMetrics = metrics is null ? "" : $"; the engine's metrics at {metrics.BoundAddresses()[0]}metrics";
                await stdout.WriteLineAsync(invocation.Engine is { } adapterOptions
                    ? string.Create(CultureInfo.InvariantCulture,
                        $"laps worker {o.WorkerId}: {SimWorkerOptions.ProtocolVersion} on {string.Join(", ", app.BoundAddresses())} ({adapterOptions.EngineName} at {adapterOptions.EngineUrl}, {o.ProposerName} k={o.K}, max batch {o.MaxBatch}; not ready until the engine answers{callers}{engineMetrics})")
                    : string.Create(CultureInfo.InvariantCulture,
                        $"laps worker {o.WorkerId}: {SimWorkerOptions.ProtocolVersion} on {string.Join(", ", app.BoundAddresses())} (sim, {o.ProposerName} k={o.K}, max batch {o.MaxBatch}, KV {o.KvCapacityTokens} tokens, workload {o.Workload}, time scale {o.TimeScale}{callers})")).ConfigureAwait(false);
                await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);

                // Returns on Ctrl+C/SIGTERM (the host's lifetime or the command line's token) after draining in-flight calls.
                await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
                if (metrics is not null)
                {
                    await metrics.StopAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                if (metrics is not null)
                {
                    await metrics.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        return ExitCodes.Success;
    }

    private static void ConfigureLogging(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        // A failed start (port in use) becomes one line on stderr, not the host's stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
    }
}

/// <summary>A bound <c>laps worker</c> command line; <see cref="Engine"/> is set for an engine adapter.</summary>
internal sealed record WorkerInvocation(SimWorkerOptions Options, string Host, int Port)
{
    public EngineWorkerOptions? Engine { get; init; }

    /// <summary>The worker token's file (checked); null: calls need no token.</summary>
    public string? TokenFile { get; init; }

    /// <summary>The port of the engine's metrics proxy (adapters only); null: none.</summary>
    public int? EngineMetricsPort { get; init; }
}
