using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Laps.Monitoring.Tests;

/// <summary>
/// Every dashboard query and every alert, run by the real Prometheus against the real sidecar's metrics
/// (<see cref="ScrapedPools"/>). "Returns data" means: the instant query's result vector is not empty, i.e. the series
/// it names exist with the labels it selects and aggregates by, and its functions and binary operators match them
/// up. A value may still be 0 (an idle gauge, a counter that rose only before its first scrape) or NaN (a quantile
/// over no new observations); <see cref="The_load_produced_the_events_the_panels_show"/> checks, separately, that
/// the load drove each kind of event. Queries of the operator's metrics run against the scraped `laps operator`
/// (<see cref="ScrapedPools.OperatorScraped"/>; without it they would be listed, not run).
/// </summary>
public sealed partial class LiveQueryTests(ScrapedPools stack, ITestOutputHelper output) : IClassFixture<ScrapedPools>
{
    /// <summary>Grafana's values when every namespace, pool and worker is selected ("All").</summary>
    private static readonly Dictionary<string, string> Variables = new(StringComparer.Ordinal)
    {
        ["__rate_interval"] = "1m",
        ["namespace"] = ".*",
        ["pool"] = ".*",
        ["worker"] = ".*",
    };

    private static readonly Dashboard Board = Dashboard.Load();
    private static readonly RuleFile Rules = RuleFile.Load(Repository.Alerts);

    public static TheoryData<string, string> DashboardQueries => Covered(Board.Queries.Select(q => (q.Panel, q.Expr)));

    public static TheoryData<string, string> AlertQueries => Covered(AllAlertQueries);

    private static IEnumerable<(string Alert, string Query)> AllAlertQueries
        => Rules.Alerts.SelectMany(a => PromQl.DataQueries(a.Expr).Select(q => (a.Alert!, q)));

    [Theory]
    [MemberData(nameof(DashboardQueries))]
    public async Task The_dashboard_query_returns_data_for_all_and_for_one_pool_and_worker(string panel, string expr)
    {
        var prometheus = stack.Prometheus;
        // One concrete selection too: it catches a worker filter on a metric without a worker label, which ".*"
        // (matching the empty label) would hide. Grafana escapes regex characters in a selected value, and PromQL
        // strings escape the backslash. An engine's query selects the pool of that engine.
        var one = new Dictionary<string, string>(Variables, StringComparer.Ordinal)
        {
            ["namespace"] = ScrapedPools.Namespace,
            ["pool"] = ScrapedPools.PoolOf(expr),
            ["worker"] = Regex.Escape(stack.WorkersOf(ScrapedPools.PoolOf(expr))[0]).Replace(@"\", @"\\", StringComparison.Ordinal),
        };
        foreach (var values in new[] { Variables, one })
        {
            var query = PromQl.Substitute(expr, values);
            var result = await prometheus.QueryUntilDataAsync(query, stack.Deadline);
            Assert.True(result.GetArrayLength() > 0, $"panel '{panel}': no data for {query}");
            output.WriteLine($"{query}\n  => {Describe(result)}");
        }
    }

    [Theory]
    [MemberData(nameof(AlertQueries))]
    public async Task The_alert_expression_without_its_threshold_returns_data(string alert, string query)
    {
        var prometheus = stack.Prometheus;
        var result = await prometheus.QueryUntilDataAsync(query, stack.Deadline);
        Assert.True(result.GetArrayLength() > 0, $"alert {alert}: no data for {query}");
        output.WriteLine($"{query}\n  => {Describe(result)}");
    }

    [Theory]
    [InlineData("sum(laps_request_duration_seconds_count{pool=\"chat\"})", "requests completed")]
    [InlineData("sum(laps_accepted_tokens_total) / sum(laps_drafted_tokens_total)", "an acceptance rate")]
    [InlineData("sum(laps_request_acceptance_ratio_count)", "per-request acceptance")]
    [InlineData("sum(laps_preemptions_total)", "preemptions")]
    [InlineData("sum(laps_execution_time_estimate_relative_error_ratio_count)", "execution-time estimates checked")]
    [InlineData("sum(laps_worker_step_duration_seconds_count)", "worker steps")]
    [InlineData("sum(laps_queue_wait_seconds_count)", "queue waits")]
    [InlineData("sum(laps_rejected_requests_total{reason=\"queue_full\"})", "429s")]
    [InlineData("sum(laps_rejected_requests_total{reason=\"unknown_model\"})", "an unknown model")]
    [InlineData("sum(laps_rejected_requests_total{reason=\"invalid_request\"})", "a malformed request")]
    [InlineData("sum(laps_rejected_requests_total{reason=\"worker_error\", pool=\"faults\"})", "a worker error")]
    [InlineData("sum(laps_migrated_requests_total{pool=\"faults\"})", "a migration")]
    [InlineData("count(laps_length_prediction_kendall_tau{pool=\"chat\"} >= -1)", "a Kendall tau")]
    [InlineData("sum(rate(laps_request_duration_seconds_count{pool=\"chat\"}[1m]))", "a completion rate")]
    [InlineData("sum(rate(laps_accepted_tokens_total{pool=\"chat\"}[1m]))", "an accepted-token rate")]
    [InlineData("sum(rate(laps_generated_tokens_total{pool=\"chat\"}[1m]))", "a generated-token rate")]
    [InlineData("count(count by (level) (laps_requests_queued{pool=\"chat\", level=~\"[0-9]+\"}))", "queue levels")]
    [InlineData("sum(rate(laps_worker_step_duration_seconds_count{pool=\"chat\"}[1m]))", "a step rate")]
    [InlineData("sum(laps_accepted_tokens_total{pool=\"vllm\"}) + sum(laps_accepted_tokens_total{pool=\"sglang\"})", "acceptance measured through the adapters")]
    [InlineData("max_over_time(vllm:num_requests_waiting{pool=\"vllm\"}[2m])", "an engine waiting queue")]
    [InlineData("max_over_time(vllm:num_requests_running{pool=\"vllm\"}[2m])", "vLLM running requests")]
    [InlineData("max_over_time(vllm:kv_cache_usage_perc{pool=\"vllm\"}[2m])", "vLLM KV cache in use")]
    [InlineData("sum(vllm:prefix_cache_queries_total{pool=\"vllm\"})", "vLLM prefix-cache lookups")]
    [InlineData("sum(rate(vllm:spec_decode_num_draft_tokens_total{pool=\"vllm\"}[1m]))", "a vLLM draft-token rate")]
    [InlineData("max_over_time(sglang:num_running_reqs{pool=\"sglang\"}[2m])", "SGLang running requests")]
    [InlineData("max_over_time(sglang:token_usage{pool=\"sglang\"}[2m])", "SGLang KV cache in use")]
    [InlineData("sglang:spec_accept_length{pool=\"sglang\"}", "an SGLang acceptance length")]
    public async Task The_load_produced_the_events_the_panels_show(string expr, string what)
    {
        var prometheus = stack.Prometheus;
        var result = await prometheus.QueryUntilDataAsync($"({expr}) > 0", stack.Deadline);
        Assert.True(result.GetArrayLength() > 0, $"no {what} scraped: {expr} is not above 0");
    }

    [Theory]
    [InlineData("namespace", "laps_requests_running", new[] { ScrapedPools.Namespace })]
    [InlineData("pool", "laps_requests_running{namespace=~\".*\"}", new[] { "chat", "faults", "sglang", "vllm" })]
    public async Task The_variables_list_what_prometheus_scraped(string label, string selector, string[] expected)
    {
        var prometheus = stack.Prometheus;
        Assert.Equal(expected, await prometheus.LabelValuesAsync(label, selector, stack.Deadline));
    }

    [Fact]
    public async Task The_worker_variable_lists_every_worker_of_every_pool()
    {
        var prometheus = stack.Prometheus;
        var workers = await prometheus.LabelValuesAsync("worker", "laps_requests_running{namespace=~\".*\", pool=~\".*\"}", stack.Deadline);
        Assert.Equal(stack.WorkerAddresses.Order(StringComparer.Ordinal), workers.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The engine metric names the dashboard and alerts read, each scraped from the emulated engines, which export them
    /// under the engines' own names (docs/engines.md cites the engines' sources). vllm:gpu_cache_usage_perc is the
    /// name before vLLM 0.9, read only as a fallback beside vllm:kv_cache_usage_perc.
    /// </summary>
    [Fact]
    public async Task Every_engine_metric_the_dashboard_and_alerts_read_is_exported_under_that_name()
    {
        var prometheus = stack.Prometheus;
        var names = Board.Queries.Select(q => q.Expr).Concat(Rules.Alerts.Select(a => a.Expr))
            .SelectMany(e => EngineMetric().Matches(e).Select(m => m.Value))
            .Where(n => n != "vllm:gpu_cache_usage_perc")
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        Assert.Contains("vllm:num_requests_waiting", names);
        Assert.Contains("sglang:num_queue_reqs", names);
        foreach (var name in names)
        {
            var result = await prometheus.QueryUntilDataAsync($"count({{__name__=\"{name}\", job=\"{ScrapedPools.EngineJob}\"}})", stack.Deadline);
            Assert.True(result.GetArrayLength() > 0, $"no engine exports {name}");
        }
    }

    /// <summary>
    /// The prometheus-adapter rule of examples/prometheus-adapter-values.yaml (for examples/hpa-queue-depth.yaml) as the
    /// adapter runs it: its series query finds each pool's queue depth with the labels it maps to the namespace and the
    /// InferencePool, and its metrics query, filled in for one pool, answers one value labelled with that pool.
    /// </summary>
    [Fact]
    public async Task The_autoscaling_rule_serves_each_pools_queue_depth()
    {
        var prometheus = stack.Prometheus;
        var rule = AdapterRule.Load(Repository.AdapterValues);
        Assert.Equal(["namespace", "pool"], rule.Resources.Overrides.Keys.Order(StringComparer.Ordinal));

        using var series = await prometheus.GetJsonAsync("api/v1/series?match[]=" + Uri.EscapeDataString(rule.SeriesQuery), stack.Deadline);
        var found = series.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(
            ["chat", "faults", "sglang", "vllm"],
            found.Select(s => s.GetProperty("pool").GetString()!).Distinct().Order(StringComparer.Ordinal));
        Assert.All(found, s => Assert.Matches(rule.Name.Matches, s.GetProperty("__name__").GetString()));

        var query = rule.QueryFor(found[0].GetProperty("__name__").GetString()!, "pool", "chat", ScrapedPools.Namespace);
        var result = await prometheus.QueryUntilDataAsync(query, stack.Deadline);
        var one = Assert.Single(result.EnumerateArray());
        Assert.Equal("chat", one.GetProperty("metric").GetProperty("pool").GetString());
        output.WriteLine($"{query}\n  => {Describe(result)}");
    }

    [Fact]
    public async Task Prometheus_loads_every_alert_and_evaluates_it_without_error()
    {
        var prometheus = stack.Prometheus;
        // Rules are evaluated every second; an unevaluated one reports "unknown".
        List<(string Name, string Health, string Error)> rules;
        do
        {
            using var doc = await prometheus.GetJsonAsync("api/v1/rules?type=alert", stack.Deadline);
            rules = [.. doc.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                .SelectMany(g => g.GetProperty("rules").EnumerateArray())
                .Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("health").GetString()!, r.TryGetProperty("lastError", out var e) ? e.GetString() ?? "" : ""))];
        }
        while (rules.Any(r => r.Health == "unknown") && await Delay());

        Assert.Equal(Rules.Alerts.Select(a => a.Alert!).Order(StringComparer.Ordinal), rules.Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.All(rules, r => Assert.True(r.Health == "ok", $"{r.Name}: {r.Health} {r.Error}"));
    }

    [Fact]
    public void Only_queries_of_the_operator_are_left_out_of_the_live_check()
    {
        var all = Board.Queries.Select(q => (q.Panel, q.Expr)).Concat(AllAlertQueries).ToList();
        var left = all.Where(q => !DashboardQueries.Concat(AlertQueries).Any(c => (string)c[0] == q.Item1 && (string)c[1] == q.Item2)).ToList();
        Assert.All(left, q => Assert.True(ScrapedPools.NeedsOperator(q.Item2), $"'{q.Item1}' is not checked live: {q.Item2}"));
        foreach (var (source, query) in left)
        {
            output.WriteLine($"not run until an operator is scraped: {source}: {query}");
        }
    }

    [Fact]
    public void The_bench_saw_429s_and_completed_the_rest()
    {
        var report = stack.BenchReport;
        Assert.True(report.GetProperty("completed").GetInt32() > 0, report.ToString());
        Assert.True(report.GetProperty("error_kinds").TryGetProperty("http 429", out var rejected) && rejected.GetInt32() > 0, report.ToString());
        Assert.Equal(report.GetProperty("requests").GetInt32(), report.GetProperty("completed").GetInt32() + rejected.GetInt32());
    }

    [GeneratedRegex(@"\b(?:vllm|sglang):[a-z_]+")]
    private static partial Regex EngineMetric();

    private static TheoryData<string, string> Covered(IEnumerable<(string Source, string Query)> queries)
    {
        var data = new TheoryData<string, string>();
        foreach (var (source, query) in queries.Where(q => ScrapedPools.OperatorScraped || !ScrapedPools.NeedsOperator(q.Query)))
        {
            data.Add(source, query);
        }

        return data;
    }

    private async Task<bool> Delay()
    {
        await Task.Delay(TimeSpan.FromMilliseconds(250), stack.Deadline);
        return true;
    }

    private static string Describe(JsonElement result) => string.Join("; ", result.EnumerateArray().Take(4).Select(r =>
        $"{r.GetProperty("metric")} {r.GetProperty("value")[1].GetString()}")) + (result.GetArrayLength() > 4 ? string.Create(CultureInfo.InvariantCulture, $"; ... ({result.GetArrayLength()} series)") : "");
}
