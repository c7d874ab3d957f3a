using System.Net;
using System.Net.Http.Json;
using Laps.Scheduler.Api;
using Laps.Scheduler.Observability;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Scheduler.Tests;

/// <summary>API keys and their tenants, the tenant header, and fair share at the front door.</summary>
public sealed class TenantTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("laps-keys-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_key_file_names_each_keys_tenant_or_derives_one_that_is_not_the_key()
    {
        var keys = ApiKeys.FromFile(Write("keys", "# the pool's clients\n\nsk-alpha team-a\r\n  sk-beta\tteam-b  \nsk-gamma\n"));

        Assert.Equal("team-a", keys.TenantOf("Bearer sk-alpha"));
        Assert.Equal("team-b", keys.TenantOf("bearer sk-beta"));
        var derived = keys.TenantOf("Bearer sk-gamma")!;
        Assert.Matches("^key-[0-9a-f]{8}$", derived);
        Assert.Equal(ApiKeys.DerivedTenant("sk-gamma"), derived);
        Assert.DoesNotContain("gamma", derived, StringComparison.Ordinal);
        Assert.Null(keys.TenantOf("Bearer sk-alph"));
        Assert.Null(keys.TenantOf("Bearer sk-alpha team-a"));
        Assert.Null(keys.TenantOf("sk-alpha"));
        Assert.Null(keys.TenantOf(""));
        Assert.Null(keys.TenantOf(null));
    }

    [Theory]
    [InlineData("", "holds no key")]
    [InlineData("# only a comment\n", "holds no key")]
    [InlineData("k1 a\nk2 b extra\n", "line 2: expected a key and an optional tenant name, found 3 fields")]
    [InlineData("k1 a\n\nk1 b\n", "line 3: the key of line 1 is listed again")]
    [InlineData("k1 team/a\n", "line 1: 'team/a' holds a character a tenant name cannot have")]
    public void A_bad_key_file_is_refused_naming_the_file_and_line(string text, string problem)
    {
        var path = Write("keys", text);

        var error = Assert.Throws<ApiKeysException>(() => ApiKeys.FromFile(path));

        Assert.StartsWith($"'{path}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_key_file_is_refused_naming_it()
        => Assert.Equal($"'{Path.Combine(_dir, "none")}' does not exist", Assert.Throws<ApiKeysException>(() => ApiKeys.FromFile(Path.Combine(_dir, "none"))).Message);

    [Fact]
    public void The_file_is_read_again_when_it_changes_and_a_bad_one_keeps_the_keys_in_force()
    {
        // As the kubelet updates a mounted Secret: the path is a symlink that is swapped to the new contents.
        var time = new FakeTimeProvider();
        var link = Path.Combine(_dir, "keys");
        File.CreateSymbolicLink(link, Write("v1", "old-key team-a\n"));
        var keys = ApiKeys.FromFile(link, time);
        Assert.Equal("team-a", keys.TenantOf("Bearer old-key"));

        Swap(link, Write("v2", "new-key team-b\n"));
        Assert.Equal("team-a", keys.TenantOf("Bearer old-key")); // not yet: read at most once per interval
        time.Advance(ApiKeys.ReloadInterval);
        Assert.Null(keys.TenantOf("Bearer old-key"));
        Assert.Equal("team-b", keys.TenantOf("Bearer new-key"));

        Swap(link, Write("v3", "broken key line here\n"));
        time.Advance(ApiKeys.ReloadInterval);
        Assert.Equal("team-b", keys.TenantOf("Bearer new-key"));
        File.Delete(link);
        time.Advance(ApiKeys.ReloadInterval);
        Assert.Equal("team-b", keys.TenantOf("Bearer new-key"));

        File.CreateSymbolicLink(link, Write("v4", "third-key\n"));
        time.Advance(ApiKeys.ReloadInterval);
        Assert.Null(keys.TenantOf("Bearer new-key"));
        Assert.Equal(ApiKeys.DerivedTenant("third-key"), keys.TenantOf("Bearer third-key"));
    }

    [Fact]
    public async Task With_keys_a_v1_request_without_or_with_a_wrong_key_gets_401_and_the_right_key_is_served()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:ApiKeyFile"] = Write("keys", "sk-right team-a\n"),
        });

        foreach (var authorization in new[] { null, "Bearer sk-wrong", "Basic sk-right" })
        {
            using var refused = await SendAsync(sidecar, "/v1/completions", authorization);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
            var error = (await SidecarHarness.JsonAsync(refused)).GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("param").ValueKind);
        }

        using var served = await SendAsync(sidecar, "/v1/completions", "Bearer sk-right");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        using var models = await SendAsync(sidecar, "/v1/models", null);
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
        using var unknown = await SendAsync(sidecar, "/v1/nothing-here", null);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);

        // Probes and Prometheus carry no credentials.
        foreach (var open in new[] { "/healthz", "/readyz", "/metrics" })
        {
            using var response = await sidecar.Client.GetAsync(new Uri(open, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var samples = MetricsTests.Parse(await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(5, samples["laps_rejected_requests_total{reason=\"unauthorized\"}"]);
        Assert.Equal(5, samples["laps_tenant_requests_total{tenant=\"unknown\",outcome=\"unauthorized\"}"]);
        Assert.Equal(1, samples["laps_tenant_requests_total{tenant=\"team-a\",outcome=\"admitted\"}"]);
    }

    [Fact]
    public async Task Without_keys_every_request_is_served_as_before()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var served = await SendAsync(sidecar, "/v1/completions", null);

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("ünï")]
    public async Task A_bad_tenant_header_gets_400_naming_the_header(string tenant)
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var refused = await SendAsync(sidecar, "/v1/completions", null, tenant);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = (await SidecarHarness.JsonAsync(refused)).GetProperty("error");
        Assert.Equal("invalid_tenant", error.GetProperty("code").GetString());
        Assert.Contains("X-Laps-Tenant", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_long_tenant_header_gets_400()
    {
        await using var sidecar = await SidecarHarness.StartAsync();

        using var refused = await SendAsync(sidecar, "/v1/completions", null, new string('t', 65));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task With_keys_the_tenant_is_the_keys_whatever_the_header_says()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:ApiKeyFile"] = Write("keys", "sk-a team-a\n"),
        });

        using var served = await SendAsync(sidecar, "/v1/completions", "Bearer sk-a", "someone-else");

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var samples = MetricsTests.Parse(await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(1, samples["laps_tenant_requests_total{tenant=\"team-a\",outcome=\"admitted\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("someone-else", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_flooding_tenant_gets_429_while_another_tenant_is_still_admitted(bool fairShare)
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:Batch"] = "1",
            ["Scheduler:MaxQueued"] = "2",
            ["Scheduler:FairShare"] = fairShare ? "true" : "false",
        });
        sidecar.Worker.Manual = true;

        // The greedy tenant alone: one running and two waiting fill the queue; its next one is turned away.
        var greedy = new List<Task<HttpResponseMessage>> { SendAsync(sidecar, "/v1/completions", null, "greedy") };
        await sidecar.Worker.Steps.WaitAsync(s => s.Batch.Count == 1);
        greedy.Add(SendAsync(sidecar, "/v1/completions", null, "greedy"));
        greedy.Add(SendAsync(sidecar, "/v1/completions", null, "greedy"));
        await sidecar.Admitted.WaitAsync(_ => true, skip: 2);
        using var full = await SendAsync(sidecar, "/v1/completions", null, "greedy");
        Assert.Equal(HttpStatusCode.TooManyRequests, full.StatusCode);
        Assert.Equal("queue_full", await CodeAsync(full)); // alone, it may use the whole queue: the pool's own limit

        using var polite = await SendWithoutWaitingAsync(sidecar, "polite");
        if (!fairShare)
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, polite.Response!.StatusCode);
            Assert.Equal("queue_full", await CodeAsync(polite.Response));
            sidecar.Worker.Allow(1000);
            foreach (var g in greedy)
            {
                using var done = await g;
            }

            return;
        }

        // The other tenant is under its share: admitted, though the queue holds MaxQueued requests.
        await sidecar.Admitted.WaitAsync(_ => true, skip: 3);
        using var flooding = await SendAsync(sidecar, "/v1/completions", null, "greedy");
        Assert.Equal(HttpStatusCode.TooManyRequests, flooding.StatusCode);
        Assert.Equal("tenant_queue_full", await CodeAsync(flooding));
        Assert.NotNull(flooding.Headers.RetryAfter);

        sidecar.Worker.Allow(1000);
        using var politeDone = await polite.Pending!;
        Assert.Equal(HttpStatusCode.OK, politeDone.StatusCode);
        foreach (var g in greedy)
        {
            using var done = await g;
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }

        var samples = MetricsTests.Parse(await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(3, samples["laps_tenant_requests_total{tenant=\"greedy\",outcome=\"admitted\"}"]);
        Assert.Equal(1, samples["laps_tenant_requests_total{tenant=\"greedy\",outcome=\"tenant_queue_full\"}"]);
        Assert.Equal(1, samples["laps_tenant_requests_total{tenant=\"polite\",outcome=\"admitted\"}"]);
    }

    [Fact]
    public void Header_tenants_beyond_the_limit_share_one_label_and_key_file_tenants_keep_theirs()
    {
        var labels = new TenantLabels();
        for (var i = 0; i < TenantLabels.MaxHeaderTenants; i++)
        {
            Assert.Equal($"t{i}", labels.For($"t{i}", fromKeyFile: false));
        }

        Assert.Equal(TenantLabels.Other, labels.For("one-too-many", fromKeyFile: false));
        Assert.Equal("t3", labels.For("t3", fromKeyFile: false));
        Assert.Equal("team-z", labels.For("team-z", fromKeyFile: true));
    }

    private static async Task<string?> CodeAsync(HttpResponseMessage response)
        => (await SidecarHarness.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString();

    // A request that is either refused at once or admitted (then it waits for the worker): whichever happens first.
    private static async Task<Outcome> SendWithoutWaitingAsync(SidecarHarness sidecar, string tenant)
    {
        var admitted = sidecar.Admitted.Snapshot().Count;
        var pending = SendAsync(sidecar, "/v1/completions", null, tenant);
        var first = await Task.WhenAny(pending, sidecar.Admitted.WaitAsync(_ => true, skip: admitted));
        return first == pending ? new Outcome(await pending, null) : new Outcome(null, pending);
    }

    private static Task<HttpResponseMessage> SendAsync(SidecarHarness sidecar, string path, string? authorization, string? tenant = null)
    {
        var request = new HttpRequestMessage(path.EndsWith("models", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post, path);
        if (request.Method == HttpMethod.Post)
        {
            request.Content = JsonContent.Create(new { prompt = "hello", max_tokens = 2 });
        }

        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (tenant is not null)
        {
            request.Headers.TryAddWithoutValidation(CompletionEndpoints.TenantHeader, tenant);
        }

        return sidecar.Client.SendAsync(request).WaitAsync(EventLog<int>.Timeout);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static void Swap(string link, string target)
    {
        File.Delete(link);
        File.CreateSymbolicLink(link, target);
    }

    private sealed record Outcome(HttpResponseMessage? Response, Task<HttpResponseMessage>? Pending) : IDisposable
    {
        public void Dispose() => Response?.Dispose();
    }
}
