using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Laps.Monitoring.Tests;

/// <summary>A scrape target: a <c>/metrics</c> address and the labels Prometheus attaches (as a ServiceMonitor would).</summary>
internal sealed record ScrapeTarget(string Job, Uri BaseUrl, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// The real <c>prometheus</c> binary on 127.0.0.1 (a free port, storage in a temp folder) scraping the given targets
/// every second and loading the given rule files, queried over its HTTP API.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly HttpClient _http;

    private PrometheusServer(Process process, string directory, Uri url)
    {
        _process = process;
        _directory = directory;
        _http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        process.ErrorDataReceived += (_, e) => Log(e.Data);
        process.OutputDataReceived += (_, e) => Log(e.Data);
    }

    public Uri Url => _http.BaseAddress!;

    /// <summary>Prometheus' own log, for failure messages.</summary>
    public string LogTail => string.Join('\n', _log.TakeLast(40));

    public static async Task<PrometheusServer> StartAsync(
        string binary, IReadOnlyList<ScrapeTarget> targets, IReadOnlyList<string> ruleFiles, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Path.GetTempPath(), "laps-prometheus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, Config(targets, ruleFiles), cancellationToken);

        var port = FreePort();
        var info = new ProcessStartInfo(binary)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--config.file={config}",
            $"--storage.tsdb.path={Path.Combine(directory, "data")}",
            string.Create(CultureInfo.InvariantCulture, $"--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var server = new PrometheusServer(Process.Start(info)!, directory, new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/")));
        try
        {
            server._process.BeginErrorReadLine();
            server._process.BeginOutputReadLine();
            await server.PollAsync(async () => (await server.TryGetAsync("-/ready", cancellationToken))?.StatusCode == HttpStatusCode.OK, "Prometheus to be ready", cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until every configured target has been scraped successfully once.</summary>
    public async Task WaitForTargetsUpAsync(int count, CancellationToken cancellationToken) => await PollAsync(async () =>
    {
        using var doc = await GetJsonAsync("api/v1/targets?state=active", cancellationToken);
        var active = doc.RootElement.GetProperty("data").GetProperty("activeTargets");
        return active.GetArrayLength() == count && active.EnumerateArray().All(t => t.GetProperty("health").GetString() == "up");
    }, $"{count} targets to be up", cancellationToken);

    /// <summary>An instant query now: its result vector (empty when the expression has no data).</summary>
    public async Task<JsonElement> QueryAsync(string expr, CancellationToken cancellationToken)
    {
        using var doc = await GetJsonAsync("api/v1/query?query=" + Uri.EscapeDataString(expr), cancellationToken);
        var data = doc.RootElement.GetProperty("data");
        Assert.Equal("vector", data.GetProperty("resultType").GetString());
        return data.GetProperty("result").Clone();
    }

    /// <summary>
    /// Polls <paramref name="expr"/> until its result is non-empty (scrapes land every second), or the bound ends:
    /// then returns the last, empty result.
    /// </summary>
    public async Task<JsonElement> QueryUntilDataAsync(string expr, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await QueryAsync(expr, cancellationToken);
            if (result.GetArrayLength() > 0 || cancellationToken.IsCancellationRequested)
            {
                return result;
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return result;
            }
        }
    }

    /// <summary><c>/api/v1/label/NAME/values?match[]=SELECTOR</c>: what a Grafana label_values() variable lists.</summary>
    public async Task<IReadOnlyList<string>> LabelValuesAsync(string label, string selector, CancellationToken cancellationToken)
    {
        using var doc = await GetJsonAsync($"api/v1/label/{label}/values?match[]={Uri.EscapeDataString(selector)}", cancellationToken);
        return [.. doc.RootElement.GetProperty("data").EnumerateArray().Select(v => v.GetString()!)];
    }

    public async Task<JsonDocument> GetJsonAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(path, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Config(IReadOnlyList<ScrapeTarget> targets, IReadOnlyList<string> ruleFiles)
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s");
        yaml.AppendLine("rule_files:");
        foreach (var file in ruleFiles)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"  - {JsonSerializer.Serialize(file)}");
        }

        yaml.AppendLine("scrape_configs:");
        foreach (var job in targets.GroupBy(t => t.Job, StringComparer.Ordinal))
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {JsonSerializer.Serialize(job.Key)}\n    static_configs:");
            foreach (var target in job)
            {
                // JSON strings are YAML flow scalars.
                var labels = string.Join(", ", target.Labels.Select(l => $"{l.Key}: {JsonSerializer.Serialize(l.Value)}"));
                yaml.AppendLine(CultureInfo.InvariantCulture, $"      - targets: [{JsonSerializer.Serialize(target.BaseUrl.Authority)}]\n        labels: {{{labels}}}");
            }
        }

        return yaml.ToString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task<HttpResponseMessage?> TryGetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.GetAsync(path, cancellationToken);
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
    }

    private async Task PollAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken)
    {
        while (!await condition())
        {
            if (_process.HasExited)
            {
                Assert.Fail($"prometheus exited ({_process.ExitCode}) while waiting for {what}:\n{LogTail}");
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"timed out waiting for {what}:\n{LogTail}");
            }
        }
    }

    private void Log(string? line)
    {
        if (line is not null)
        {
            _log.Enqueue(line);
        }
    }
}
