using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Laps.Cli.Bench;
using Laps.Simulation.Arrivals;
using Laps.Simulation.Workloads;
using Spectre.Console;

namespace Laps.Cli.Commands;

/// <summary>
/// <c>laps bench</c>: an open-loop load generator against any OpenAI-compatible endpoint. Prompts come from a
/// workload as token ids (sim workers replay the trace entry they come from), arrivals from a rate or a trace.
/// </summary>
internal sealed class BenchCommand : Command
{
    public const string CommandName = "bench";

    private readonly Func<HttpClient> _httpClient;

    public BenchCommand(Func<HttpClient>? httpClient = null)
        : base(CommandName, "Drive an open-loop load against an OpenAI-compatible server and report latency, TTFT and throughput.")
    {
        _httpClient = httpClient ?? (() => new HttpClient { Timeout = Timeout.InfiniteTimeSpan });
        foreach (var option in new Option[] { Target, Workload, Rate, Arrivals, Requests, MaxTokens, ConcurrencyLimit, Model, Seed, RequestTimeout, Json, ApiKey, Tenant })
        {
            Options.Add(option);
        }

        SetAction(ExecuteAsync);
    }

    internal Option<string> Target { get; } = new("--target") { Description = "Base URL of the server", DefaultValueFactory = _ => "http://127.0.0.1:8080" };

    internal Option<string> Workload { get; } = new("--workload") { Description = "Built-in profile, trace file, or a comma-separated mix (file:weight)", DefaultValueFactory = _ => "sharegpt" };

    internal Option<double?> Rate { get; } = OptionValues.Knob("--rate", "Requests per second (required unless --arrivals is a trace CSV, whose own rate is then used)", OptionValues.Number);

    internal Option<string> Arrivals { get; } = new("--arrivals") { Description = "poisson, gamma:<cv>, or an Azure-format CSV of timestamps", DefaultValueFactory = _ => "poisson" };

    internal Option<int> Requests { get; } = OptionValues.Scalar("--requests", "Requests to send", OptionValues.Integer, () => 200);

    /// <summary>What real clients send when they set a limit: one fixed max_tokens, blind to how long each answer will be.</summary>
    internal const int DefaultMaxTokens = 4096;

    /// <summary>The value of --max-tokens that sends each entry's own output length.</summary>
    internal const string TraceMaxTokens = "trace";

    // A number, or "trace" (each entry's own output length).
    internal Option<string> MaxTokens { get; } = OptionValues.Scalar(
        "--max-tokens",
        $"max_tokens of every request, or '{TraceMaxTokens}': each prompt's own output length in the workload, which tells a length-capping scheduler the truth (only for studying that)",
        (option, token) => token == TraceMaxTokens ? token : OptionValues.Integer(option, token).ToString(CultureInfo.InvariantCulture),
        () => DefaultMaxTokens.ToString(CultureInfo.InvariantCulture),
        "N|" + TraceMaxTokens);

    internal Option<int> ConcurrencyLimit { get; } = OptionValues.Scalar("--concurrency-limit", "Most requests in flight; later ones wait (their wait counts in latency)", OptionValues.Integer, () => 256);

    internal Option<string> Model { get; } = new("--model") { Description = "Model name sent with each request", DefaultValueFactory = _ => "laps-sim" };

    internal Option<int> Seed { get; } = OptionValues.Scalar("--seed", "Seed for prompts and arrivals", OptionValues.Integer, () => 1);

    internal Option<double> RequestTimeout { get; } = OptionValues.Scalar("--timeout", "Seconds before one request counts as an error", OptionValues.Number, () => 300);

    internal Option<bool> Json { get; } = new("--json") { Description = "Print the report as JSON on stdout" };

    internal Option<string?> ApiKey { get; } = new("--api-key") { Description = "Send 'Authorization: Bearer <key>' with every request (a pool started with --api-key-file)", HelpName = "key" };

    internal Option<string?> Tenant { get; } = new("--tenant")
    {
        Description = $"Send '{Laps.Scheduler.Api.CompletionEndpoints.TenantHeader}: <name>' with every request (a pool without API keys takes it as the tenant)",
        HelpName = "name",
    };

    private async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var stdout = parseResult.InvocationConfiguration.Output;
        try
        {
            var (target, plan, concurrency, timeout) = Bind(parseResult);
            using var http = _httpClient();
            if (parseResult.GetValue(ApiKey) is { } key)
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }

            if (parseResult.GetValue(Tenant) is { } tenant)
            {
                http.DefaultRequestHeaders.Add(Laps.Scheduler.Api.CompletionEndpoints.TenantHeader, tenant);
            }

            var report = await new LoadGenerator(http, TimeProvider.System)
                .RunAsync(target, parseResult.GetValue(Model)!, plan, concurrency, timeout, cancellationToken).ConfigureAwait(false);
            report = report with { MaxTokens = parseResult.GetValue(MaxTokens) };
            Print(report, parseResult.GetValue(Json), stdout);
            if (report.Errors > 0)
            {
                // The report is out (a script keeps it); the exit status says it is not a clean run.
                parseResult.InvocationConfiguration.Error.WriteLine(
                    $"laps bench: {report.Errors} of {report.Requests} requests failed ({string.Join(", ", report.ErrorKinds.Select(k => $"{k.Value} × {k.Key}"))})");
                return ExitCodes.Failed;
            }

            return ExitCodes.Success;
        }
        catch (Exception e) when (SimCommand.IsBadInput(SimCommand.Unwrap(e)))
        {
            throw new UsageException(SimCommand.Unwrap(e).Message, e);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Cancelled;
        }
    }

    private (Uri Target, BenchPlan Plan, int Concurrency, TimeSpan Timeout) Bind(ParseResult parseResult)
    {
        var targetText = parseResult.GetValue(Target)!;
        if (!Uri.TryCreate(targetText, UriKind.Absolute, out var target) || (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"--target: '{targetText}' is not an http(s) URL");
        }

        if (!target.AbsolutePath.EndsWith('/'))
        {
            target = new Uri(target + "/");
        }

        if (parseResult.GetValue(ApiKey) is { } key && (key.Length == 0 || key.Any(c => c is < '!' or > '~')))
        {
            throw new UsageException("--api-key: a key is visible ASCII without spaces");
        }

        if (parseResult.GetValue(Tenant) is { } tenant && Laps.Scheduling.FairShare.Rejection(tenant) is { } problem)
        {
            throw new UsageException($"--tenant: {problem}");
        }

        var requests = parseResult.GetValue(Requests);
        if (requests < 1)
        {
            throw new UsageException($"--requests: '{requests}' is out of range: must be >= 1");
        }

        var concurrency = parseResult.GetValue(ConcurrencyLimit);
        if (concurrency < 1)
        {
            throw new UsageException($"--concurrency-limit: '{concurrency}' is out of range: must be >= 1");
        }

        var timeout = parseResult.GetValue(RequestTimeout);
        if (!(timeout > 0) || double.IsInfinity(timeout))
        {
            throw new UsageException($"--timeout: '{timeout.ToString(CultureInfo.InvariantCulture)}' is out of range: must be a positive number of seconds");
        }

        var arrivalSpec = ArrivalSpec.Parse(parseResult.GetValue(Arrivals)!);
        var process = arrivalSpec.CreateProcess();
        var rate = parseResult.GetValue(Rate) ?? (process is TraceArrivals trace
            ? trace.MeanRatePerSecond
            : throw new UsageException("--rate: required unless --arrivals is a trace CSV"));
        if (!(rate > 0) || double.IsInfinity(rate))
        {
            throw new UsageException($"--rate: '{rate.ToString(CultureInfo.InvariantCulture)}' is out of range: must be a positive number of requests per second");
        }

        int? maxTokens = parseResult.GetValue(MaxTokens) is { } text && text != TraceMaxTokens ? int.Parse(text, CultureInfo.InvariantCulture) : null;
        if (maxTokens is < 1)
        {
            throw new UsageException($"--max-tokens: '{maxTokens}' is out of range: must be >= 1");
        }

        var workload = WorkloadCatalog.Load(parseResult.GetValue(Workload)!);
        return (target, BenchPlan.Create(workload, process, rate, requests, parseResult.GetValue(Seed), maxTokens), concurrency, TimeSpan.FromSeconds(timeout));
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static void Print(BenchReport report, bool json, TextWriter stdout)
    {
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
            return;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = Math.Max(console.Profile.Width, 120); // never wrap the one-row table
        var table = new Table().AddColumns("requests", "completed", "errors", "duration s", "mean s", "p50 s", "p99 s", "TTFT s", "tokens/s");
        table.AddRow(
            report.Requests.ToString(CultureInfo.InvariantCulture), report.Completed.ToString(CultureInfo.InvariantCulture), report.Errors.ToString(CultureInfo.InvariantCulture),
            F(report.DurationSeconds), F(report.MeanLatencySeconds), F(report.P50LatencySeconds), F(report.P99LatencySeconds), F(report.MeanTtftSeconds), F(report.TokensPerSecond));
        console.Write(table);
        console.WriteLine(report.MaxTokens == TraceMaxTokens
            ? "max_tokens: each request's own output length in the workload (--max-tokens trace)"
            : $"max_tokens: {report.MaxTokens} for every request");
        foreach (var (kind, count) in report.ErrorKinds)
        {
            console.WriteLine($"errors: {count} × {kind}");
        }

        static string F(double? x) => x is double v ? v.ToString(v < 10 ? "F3" : "F1", CultureInfo.InvariantCulture) : "-";
    }
}
