using System.CommandLine;
using System.Globalization;
using Laps.Emulation;
using Laps.Simulation.Workloads;
using Laps.Worker;
using Laps.Worker.Engines;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Laps.Cli.Commands;

/// <summary>
/// <c>laps emulate vllm|sglang</c>: the sim engine's model behind vLLM's or SGLang's own HTTP API (continuous batching
/// up to <c>--batch</c>, a prefix cache, the engine's stream format, abort rules and metric names), so that
/// <c>laps worker --engine vllm|sglang</c> and benchmarks run without a GPU. Faults on demand through
/// <c>POST /emulator/faults</c>. Runs until Ctrl+C or SIGTERM.
/// </summary>
internal sealed class EmulateCommand : Command
{
    public const string CommandName = "emulate";

    private static readonly SimWorkerOptions Defaults = new();

    private static readonly Dictionary<string, string> OptionNames = new(StringComparer.Ordinal)
    {
        [nameof(SimWorkerOptions.K)] = "--k",
        [nameof(SimWorkerOptions.TimeScale)] = "--time-scale",
        [nameof(SimWorkerOptions.Workload)] = "--workload",
        [nameof(SimWorkerOptions.LlmModel)] = "--model",
        [nameof(EmulatorOptions.MaxRunning)] = "--batch",
        [nameof(EmulatorOptions.StreamInterval)] = "--stream-interval",
        [nameof(EmulatorOptions.BlockSize)] = "--block-size",
    };

    private static readonly Dictionary<string, EngineKind> EngineNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["vllm"] = EngineKind.Vllm,
        ["sglang"] = EngineKind.Sglang,
    };

    public EmulateCommand()
        : base(CommandName, "Emulate a vLLM or SGLang server (its HTTP API and behaviour) with the sim engine's model, without a GPU.")
    {
        Arguments.Add(EngineArgument);
        Option[] options = [Port, Host, Batch, Workload, Proposer, K, TimeScale, Model, StreamInterval, BlockSize, LoadSeconds];
        foreach (var option in options)
        {
            Options.Add(option);
        }

        SetAction((parseResult, cancellationToken) => ExecuteAsync(parseResult, cancellationToken));
    }

    internal Argument<string> EngineArgument { get; } = new Argument<string>("engine") { Description = "vllm or sglang" }.AcceptOnlyFromAmong("vllm", "sglang");

    internal Option<int?> Port { get; } = OptionValues.Knob<int>("--port", "TCP port (default: the engine's, vllm 8000, sglang 30000; 0: any free port)", OptionValues.Integer);

    internal Option<string> Host { get; } = OptionValues.Scalar("--host", "Address to listen on: an IP address or 'localhost'", (_, t) => t, () => "127.0.0.1");

    internal Option<int> Batch { get; } = OptionValues.Scalar("--batch", "The engine's batch cap (vLLM --max-num-seqs, SGLang --max-running-requests); the rest wait", OptionValues.Integer, () => EmulatorOptions.DefaultMaxRunning);

    internal Option<string> Workload { get; } = OptionValues.Scalar(
        "--workload", "Trace files whose prompts are replayed and/or a built-in profile for other prompts, comma-separated", (_, t) => t, () => Defaults.Workload, "trace|profile[,...]");

    internal Option<string> Proposer { get; } = OptionValues.ChoiceOption("--proposer", "Draft proposer the engine runs", OptionValues.Proposers, "eagle");

    internal Option<int> K { get; } = OptionValues.Scalar("--k", "Speculation length k", OptionValues.Integer, () => Defaults.K);

    internal Option<double> TimeScale { get; } = OptionValues.Scalar("--time-scale", "Run this many times faster than the step-time model (1: real time)", OptionValues.Number, () => 1.0);

    internal Option<string> Model { get; } = OptionValues.Scalar("--model", "The served model's name", (_, t) => t, () => Defaults.LlmModel);

    internal Option<int> StreamInterval { get; } = OptionValues.Scalar("--stream-interval", "Tokens per streamed chunk at least (the engines' --stream-interval)", OptionValues.Integer, () => 1);

    internal Option<int?> BlockSize { get; } = OptionValues.Knob<int>("--block-size", "Prefix-cache block size in tokens (default: vllm 16, sglang 1)", OptionValues.Integer);

    internal Option<double> LoadSeconds { get; } = OptionValues.Scalar(
        "--load-seconds", "Seconds 'loading the model' first: vLLM keeps its port closed, SGLang answers 503", OptionValues.Number, () => 0);

    public (EmulatorOptions Options, string Host, int Port, TimeSpan Load) Bind(ParseResult parseResult)
    {
        var engine = EngineNames[parseResult.GetValue(EngineArgument) ?? "vllm"];
        var port = parseResult.GetValue(Port) ?? (engine == EngineKind.Vllm ? 8000 : 30000);
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"--port: '{port.ToString(CultureInfo.InvariantCulture)}' is out of range: must be in 0..65535");
        }

        var host = parseResult.GetValue(Host) ?? "127.0.0.1";
        try
        {
            WorkerHost.ParseHost(host);
        }
        catch (FormatException e)
        {
            throw new UsageException("--host: " + e.Message, e);
        }

        var load = parseResult.GetValue(LoadSeconds);
        if (!(load >= 0) || !double.IsFinite(load))
        {
            throw new UsageException($"--load-seconds: '{load.ToString(CultureInfo.InvariantCulture)}' is out of range: must be >= 0");
        }

        var options = new EmulatorOptions
        {
            Engine = engine,
            Model = new SimWorkerOptions
            {
                WorkerId = "emulated-" + engine.ToString().ToLowerInvariant(),
                LlmModel = parseResult.GetValue(Model) ?? Defaults.LlmModel,
                Proposer = OptionValues.Proposers[parseResult.GetValue(Proposer) ?? "eagle"],
                K = parseResult.GetValue(K),
                TimeScale = parseResult.GetValue(TimeScale),
                Workload = parseResult.GetValue(Workload) ?? Defaults.Workload,
            },
            MaxRunning = parseResult.GetValue(Batch),
            StreamInterval = parseResult.GetValue(StreamInterval),
            BlockSize = parseResult.GetValue(BlockSize) ?? (engine == EngineKind.Vllm ? 16 : 1),
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(SimCommand.Describe(e, OptionNames), e);
        }

        return (options, host, port, TimeSpan.FromSeconds(load));
    }

    private async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stdout = parseResult.InvocationConfiguration.Output;
        var bound = Bind(parseResult);
        WebApplication app;
        try
        {
            app = EmulatorHost.Build(bound.Options, bound.Host, bound.Port, ConfigureLogging);
        }
        catch (WorkloadFormatException e)
        {
            throw new UsageException("--workload: " + e.Message, e);
        }

        await using (app.ConfigureAwait(false))
        {
            async Task StartAsync()
            {
                if (bound.Options.Engine == EngineKind.Vllm && bound.Load > TimeSpan.Zero)
                {
                    await Task.Delay(bound.Load, cancellationToken).ConfigureAwait(false); // vLLM: the port opens once the model is loaded
                }

                app.Engine().Loading = bound.Options.Engine == EngineKind.Sglang && bound.Load > TimeSpan.Zero;
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            if (!await Listening.StartAsync(StartAsync, bound.Host, bound.Port, cancellationToken).ConfigureAwait(false))
            {
                return ExitCodes.Success;
            }

            var o = bound.Options;
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"laps emulate {o.EngineName}: {o.ModelName} on {string.Join(", ", app.BoundAddresses())} ({o.Model.ProposerName} k={o.Model.K}, batch {o.MaxRunning}, workload {o.Model.Workload}, time scale {o.Model.TimeScale})")).ConfigureAwait(false);
            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (app.Engine().Loading)
            {
                _ = Task.Delay(bound.Load, cancellationToken).ContinueWith(_ => app.Engine().Loading = false, TaskScheduler.Default);
            }

            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        return ExitCodes.Success;
    }

    private static void ConfigureLogging(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
    }
}
