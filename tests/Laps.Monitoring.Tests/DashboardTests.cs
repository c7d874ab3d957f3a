using System.Text.Json.Nodes;

namespace Laps.Monitoring.Tests;

/// <summary>The dashboard's structure: what Grafana needs to import it and what makes it follow its variables.</summary>
public sealed class DashboardTests
{
    private static readonly Dashboard Board = Dashboard.Load();

    [Fact]
    public void It_is_a_schema_39_dashboard_with_a_stable_uid()
    {
        Assert.Equal(39, (int)Board.Root["schemaVersion"]!);
        Assert.Equal("laps-pools", (string?)Board.Root["uid"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)Board.Root["title"]));
    }

    [Fact]
    public void Its_datasource_is_a_prometheus_variable()
    {
        var datasource = Assert.Single(Board.Variables, v => (string?)v["name"] == "datasource");
        Assert.Equal("datasource", (string?)datasource["type"]);
        Assert.Equal("prometheus", (string?)datasource["query"]);
    }

    [Theory]
    [InlineData("namespace", "label_values(laps_requests_running, namespace)")]
    [InlineData("pool", "label_values(laps_requests_running{namespace=~\"$namespace\"}, pool)")]
    [InlineData("worker", "label_values(laps_requests_running{namespace=~\"$namespace\", pool=~\"$pool\"}, worker)")]
    public void Namespace_pool_and_worker_are_chained_label_values_variables_with_all(string name, string query)
    {
        var variable = Assert.Single(Board.Variables, v => (string?)v["name"] == name);
        Assert.Equal("query", (string?)variable["type"]);
        Assert.Equal(query, (string?)variable["query"]!["query"]);
        Assert.Equal("${datasource}", (string?)variable["datasource"]!["uid"]);
        Assert.True((bool)variable["includeAll"]!);
        Assert.Equal(".*", (string?)variable["allValue"]);
    }

    [Fact]
    public void Panel_ids_are_unique()
    {
        var ids = Board.Panels.Select(p => (int)p["id"]!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void Every_panel_and_every_target_queries_the_datasource_variable()
    {
        foreach (var panel in Board.QueryPanels)
        {
            Assert.True(IsDatasourceVariable(panel["datasource"]), $"panel '{panel["title"]}' has no ${{datasource}} reference");
            var targets = panel["targets"]?.AsArray() ?? [];
            Assert.True(targets.Count > 0, $"panel '{panel["title"]}' has no targets");
            Assert.All(targets, t => Assert.True(IsDatasourceVariable(t!["datasource"]), $"a target of '{panel["title"]}' has no ${{datasource}} reference"));
        }
    }

    [Fact]
    public void Every_target_has_an_expression_and_a_unique_ref_id_in_its_panel()
    {
        foreach (var panel in Board.QueryPanels)
        {
            var targets = panel["targets"]!.AsArray().Select(t => t!.AsObject()).ToList();
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace((string?)t["expr"]), $"a target of '{panel["title"]}' has no expr"));
            Assert.Equal(targets.Count, targets.Select(t => (string?)t["refId"]).Distinct().Count());
        }
    }

    [Fact]
    public void Grid_positions_fit_24_columns_and_no_two_panels_overlap()
    {
        var boxes = Board.Panels.Select(p => (Title: (string)p["title"]!, Grid: p["gridPos"]!.AsObject()))
            .Select(p => (p.Title, X: (int)p.Grid["x"]!, Y: (int)p.Grid["y"]!, W: (int)p.Grid["w"]!, H: (int)p.Grid["h"]!))
            .ToList();
        foreach (var b in boxes)
        {
            Assert.True(b.X >= 0 && b.Y >= 0 && b.W > 0 && b.H > 0 && b.X + b.W <= 24, $"'{b.Title}' is placed outside the grid");
        }

        for (var i = 0; i < boxes.Count; i++)
        {
            for (var j = i + 1; j < boxes.Count; j++)
            {
                var (a, b) = (boxes[i], boxes[j]);
                var overlap = a.X < b.X + b.W && b.X < a.X + a.W && a.Y < b.Y + b.H && b.Y < a.Y + a.H;
                Assert.False(overlap, $"'{a.Title}' and '{b.Title}' overlap");
            }
        }
    }

    [Fact]
    public void Sidecar_panels_follow_the_namespace_and_pool_variables()
    {
        // Operator metrics come from the operator's own pod, not from a pool.
        foreach (var (panel, expr) in Board.Queries.Where(q => !q.Expr.Contains("laps_operator_", StringComparison.Ordinal)))
        {
            var follows = expr.Contains("namespace=~\"$namespace\"", StringComparison.Ordinal) && expr.Contains("pool=~\"$pool\"", StringComparison.Ordinal);
            Assert.True(follows, $"'{panel}' ignores the namespace or pool variable: {expr}");
        }
    }

    [Theory]
    [InlineData("laps_accepted_tokens_total")]
    [InlineData("laps_drafted_tokens_total")]
    [InlineData("laps_generated_tokens_total")]
    [InlineData("laps_request_acceptance_ratio_bucket")]
    [InlineData("laps_request_duration_seconds_bucket")]
    [InlineData("laps_time_to_first_token_seconds_bucket")]
    [InlineData("laps_queue_wait_seconds_bucket")]
    [InlineData("laps_requests_queued")]
    [InlineData("laps_requests_running")]
    [InlineData("laps_worker_ready")]
    [InlineData("laps_perceptible_requests")]
    [InlineData("laps_preemptions_total")]
    [InlineData("laps_execution_time_estimate_relative_error_ratio_bucket")]
    [InlineData("laps_worker_step_duration_seconds_bucket")]
    [InlineData("laps_request_duration_seconds_count")]
    [InlineData("laps_rejected_requests_total")]
    [InlineData("laps_migrated_requests_total")]
    [InlineData("laps_worker_step_failures_total")]
    [InlineData("laps_cancelled_requests_total")]
    [InlineData("laps_tenant_requests_total")]
    [InlineData("laps_worker_sequence_errors_total")]
    [InlineData("laps_length_prediction_kendall_tau")]
    [InlineData("laps_operator_reconcile_total")]
    [InlineData("laps_operator_reconcile_errors_total")]
    [InlineData("laps_operator_reconcile_recovered_total")]
    [InlineData("laps_operator_reconcile_duration_seconds_bucket")]
    [InlineData("laps_operator_leader")]
    [InlineData("laps_operator_workqueue_depth")]
    public void Every_laps_metric_has_a_panel(string series)
        => Assert.Contains(Board.Queries, q => q.Expr.Contains(series, StringComparison.Ordinal));

    /// <summary>The engines' own metrics, under the names vLLM (vllm/v1/metrics/loggers.py, vllm/v1/spec_decode/metrics.py) and SGLang (python/sglang/srt/metrics/collector.py) export.</summary>
    [Theory]
    [InlineData("vllm:kv_cache_usage_perc")]
    [InlineData("vllm:gpu_cache_usage_perc")]
    [InlineData("sglang:token_usage")]
    [InlineData("vllm:num_requests_running")]
    [InlineData("vllm:num_requests_waiting")]
    [InlineData("sglang:num_running_reqs")]
    [InlineData("sglang:num_queue_reqs")]
    [InlineData("vllm:prefix_cache_hits_total")]
    [InlineData("vllm:prefix_cache_queries_total")]
    [InlineData("sglang:cache_hit_rate")]
    [InlineData("vllm:spec_decode_num_accepted_tokens_total")]
    [InlineData("vllm:spec_decode_num_draft_tokens_total")]
    [InlineData("vllm:spec_decode_num_drafts_total")]
    [InlineData("sglang:spec_accept_rate")]
    [InlineData("sglang:spec_accept_length")]
    public void Every_engine_metric_has_a_panel_in_the_engine_row(string series)
    {
        var row = EngineRow();
        Assert.Contains(Board.Queries, q => row.Contains(q.Panel) && q.Expr.Contains(series, StringComparison.Ordinal));
        Assert.DoesNotContain(Board.Queries, q => !row.Contains(q.Panel) && q.Expr.Contains(series, StringComparison.Ordinal));
    }

    [Fact]
    public void The_engines_acceptance_is_drawn_beside_the_one_Laps_measures()
    {
        var panel = Assert.Single(Board.QueryPanels, p => Board.Queries.Any(q => q.Panel == (string)p["title"]! && q.Expr.Contains("vllm:spec_decode_num_draft_tokens_total", StringComparison.Ordinal)));
        var exprs = panel["targets"]!.AsArray().Select(t => (string)t!["expr"]!).ToList();

        Assert.Contains(exprs, e => e.Contains("laps_accepted_tokens_total", StringComparison.Ordinal) && e.Contains("laps_drafted_tokens_total", StringComparison.Ordinal));
        Assert.Contains(exprs, e => e.Contains("sglang:spec_accept_rate", StringComparison.Ordinal));
        Assert.Equal("percentunit", (string?)panel["fieldConfig"]!["defaults"]!["unit"]);
    }

    [Fact]
    public void Engine_queries_aggregate_by_namespace_pool_and_at_most_pod_and_never_filter_on_worker()
    {
        // Engine series carry the pod label their ServiceMonitor P-engines gives them, not the sidecar's worker label: a $worker filter would drop them.
        foreach (var (panel, expr) in Board.Queries.Where(q => q.Expr.Contains("vllm:", StringComparison.Ordinal) || q.Expr.Contains("sglang:", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain("$worker", expr, StringComparison.Ordinal);
            Assert.Matches(@"^(?:1 \+ )?(?:sum|max|avg) by \(namespace, pool(?:, pod)?\)", expr);
        }
    }

    /// <summary>The titles of the panels under the row "Engines (vLLM, SGLang)": those after it, up to the next row.</summary>
    private static HashSet<string> EngineRow()
    {
        var panels = Board.Panels.OrderBy(p => (int)p["gridPos"]!["y"]!).ThenBy(p => (int)p["gridPos"]!["x"]!).ToList();
        var start = panels.FindIndex(p => (string?)p["type"] == "row" && (string?)p["title"] == "Engines (vLLM, SGLang)");
        Assert.True(start >= 0, "no row 'Engines (vLLM, SGLang)'");
        return [.. panels.Skip(start + 1).TakeWhile(p => (string?)p["type"] != "row").Select(p => (string)p["title"]!)];
    }

    [Fact]
    public void Every_counter_and_histogram_is_rated_over_the_rate_interval_variable()
    {
        foreach (var (panel, expr) in Board.Queries.Where(q => q.Expr.Contains("rate(", StringComparison.Ordinal) || q.Expr.Contains("increase(", StringComparison.Ordinal)))
        {
            Assert.True(expr.Contains("[$__rate_interval]", StringComparison.Ordinal), $"'{panel}' uses a fixed range: {expr}");
        }
    }

    private static bool IsDatasourceVariable(JsonNode? reference)
        => reference is JsonObject r && (string?)r["type"] == "prometheus" && (string?)r["uid"] == "${datasource}";
}
