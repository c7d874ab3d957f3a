using System.CommandLine;
using System.Text.RegularExpressions;
using Grpc.Net.Client;
using Laps.Worker;
using Laps.Worker.V1;
using Microsoft.Extensions.Logging;

namespace Laps.Cli.Tests;

public sealed class WorkerCommandTests
{
    [Theory]
    [InlineData("--k", "0", "laps worker: --k: '0' is out of range")]
    [InlineData("--k", "two", "laps worker: --k: 'two' is not an integer")]
    [InlineData("--time-scale", "0", "laps worker: --time-scale: '0' is out of range")]
    [InlineData("--time-scale", "fast", "laps worker: --time-scale: 'fast' is not a number")]
    [InlineData("--proposer", "medusa", "laps worker: --proposer: unknown value 'medusa'")]
    [InlineData("--port", "70000", "laps worker: --port: '70000' is out of range")]
    [InlineData("--host", "nowhere", "laps worker: --host: 'nowhere' is not an IP address")]
    [InlineData("--max-batch", "0", "laps worker: --max-batch: '0' is out of range")]
    [InlineData("--max-steps", "0", "laps worker: --max-steps: '0' is out of range")]
    [InlineData("--kv-capacity", "-5", "laps worker: --kv-capacity: '-5' is out of range")]
    [InlineData("--worker-id", " ", "laps worker: --worker-id: worker id must not be empty")]
    [InlineData("--workload", "no-such-profile", "laps worker: --workload: workload item 'no-such-profile' is neither")]
    [InlineData("--token-file", "/nonexistent/worker-token", "laps worker: --token-file: '/nonexistent/worker-token' does not exist")]
    public void A_bad_value_is_one_line_naming_the_option_and_exit_code_2(string option, string value, string expected)
    {
        string[] args = option == "--port" ? ["worker", option, value] : ["worker", "--port", "0", option, value];
        var (exitCode, stdout, stderr) = new Cli().Run(args);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sim")]
    [InlineData("vllm")]
    public void An_empty_token_file_stops_the_worker_naming_it(string engine)
    {
        using var directory = new TempDirectory();
        var token = directory.File("token");
        File.WriteAllText(token, "\n");

        var (exitCode, _, stderr) = new Cli().Run("worker", "--port", "0", "--engine", engine, "--token-file", token);

        Assert.Equal(2, exitCode);
        Assert.Equal($"laps worker: --token-file: '{token}' is empty: it must hold the worker token", stderr.Trim());
    }

    [Fact]
    public void A_malformed_trace_names_the_workload_option_file_and_line()
    {
        using var directory = new TempDirectory();
        var trace = directory.File("bad.jsonl");
        File.WriteAllText(trace, "{\"id\": 1, \"prompt_token_ids\": [1], \"acc_eagle\": {\"acc_len\": [0]}}\n");

        var (exitCode, _, stderr) = new Cli().Run("worker", "--port", "0", "--workload", trace);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("laps worker: --workload: ", stderr, StringComparison.Ordinal);
        Assert.Contains("bad.jsonl", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_token_file_the_worker_refuses_a_caller_without_the_token_and_serves_one_with_it()
    {
        using var directory = new TempDirectory();
        var token = directory.File("token");
        File.WriteAllText(token, "cli-secret\n");
        using var stdout = new StringWriter();
        var output = TextWriter.Synchronized(stdout);
        using var stop = new CancellationTokenSource();
        var parse = new LapsCommand().Parse(["worker", "--port", "0", "--token-file", token, "--time-scale", "100"]);
        var run = parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = TextWriter.Null, ProcessTerminationTimeout = null }, stop.Token);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Match address;
        while (!(address = Regex.Match(Text(), @"http://127\.0\.0\.1:\d+")).Success)
        {
            Assert.False(run.IsCompleted, "the worker exited");
            await Task.Delay(20, timeout.Token);
        }

        using (var channel = GrpcChannel.ForAddress(address.Value))
        {
            var client = new SpeculativeWorker.SpeculativeWorkerClient(channel);
            var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(
                () => client.DescribeAsync(new DescribeRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
            var description = await client.DescribeAsync(
                new DescribeRequest(), new Grpc.Core.Metadata { { "authorization", "Bearer cli-secret" } }, DateTime.UtcNow.AddSeconds(10));

            Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Equal("sim", description.Engine);
        }

        Assert.Contains($"calls need the worker token in {token}", Text(), StringComparison.Ordinal);
        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(timeout.Token));

        string Text()
        {
            lock (output)
            {
                return stdout.ToString();
            }
        }
    }

    [Fact]
    public async Task An_adapter_with_an_engine_metrics_port_serves_the_engines_metrics_there()
    {
        await using var engine = Laps.Emulation.EmulatorHost.Build(
            new Laps.Emulation.EmulatorOptions { Engine = Laps.Worker.Engines.EngineKind.Vllm }, "127.0.0.1", 0,
            b => b.Logging.ClearProviders());
        await engine.StartAsync();
        var engineUrl = engine.BoundAddresses()[0];
        using var stdout = new StringWriter();
        var output = TextWriter.Synchronized(stdout);
        using var stop = new CancellationTokenSource();
        var parse = new LapsCommand().Parse(["worker", "--port", "0", "--engine", "vllm", "--engine-url", engineUrl.ToString(), "--engine-metrics-port", "0"]);
        var run = parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = TextWriter.Null, ProcessTerminationTimeout = null }, stop.Token);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Match address;
        while (!(address = Regex.Match(Text(), @"the engine's metrics at (http://127\.0\.0\.1:\d+/metrics)")).Success)
        {
            Assert.False(run.IsCompleted, "the worker exited");
            await Task.Delay(20, timeout.Token);
        }

        using (var http = new HttpClient())
        {
            var metrics = await http.GetStringAsync(new Uri(address.Groups[1].Value), timeout.Token);
            Assert.Equal(await http.GetStringAsync(new Uri(engineUrl, "metrics"), timeout.Token), metrics);
            Assert.Contains("vllm:num_requests_waiting", metrics, StringComparison.Ordinal);
        }

        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(timeout.Token));
        await engine.StopAsync();

        string Text()
        {
            lock (output)
            {
                return stdout.ToString();
            }
        }
    }

    [Fact]
    public async Task The_worker_serves_describe_on_loopback_and_stops_cleanly_when_cancelled()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var output = TextWriter.Synchronized(stdout);
        using var stop = new CancellationTokenSource();
        var command = new LapsCommand();
        var parse = command.Parse(["worker", "--port", "0", "--worker-id", "cli-test", "--k", "3", "--time-scale", "100"]);
        var run = parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = TextWriter.Synchronized(stderr), ProcessTerminationTimeout = null }, stop.Token);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Match address;
        while (!(address = Regex.Match(Text(), @"http://127\.0\.0\.1:\d+")).Success)
        {
            Assert.False(run.IsCompleted, "the worker exited: " + stderr);
            await Task.Delay(20, timeout.Token);
        }

        using (var channel = GrpcChannel.ForAddress(address.Value))
        {
            var client = new SpeculativeWorker.SpeculativeWorkerClient(channel);
            var description = await client.DescribeAsync(new DescribeRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal("cli-test", description.WorkerId);
            Assert.Equal(3, description.SpeculationLength);
            Assert.Equal("sim", description.Engine);
        }

        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(timeout.Token));

        // The synchronized writer locks itself; read the buffer under the same lock.
        string Text()
        {
            lock (output)
            {
                return stdout.ToString();
            }
        }
    }
}
