using Grpc.Core;
using Grpc.Net.Client;
using Laps.Worker.Identity;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static Laps.Worker.Tests.Builders;
using static Laps.Worker.Tests.GrpcLoopbackTests;

namespace Laps.Worker.Tests;

/// <summary>A worker started with a token file, on a real loopback socket: every call of the protocol must carry the token.</summary>
public sealed class WorkerAuthenticationTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "laps-worker-auth-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _tokenTime = new();
    private WebApplication _app = null!;
    private GrpcChannel _channel = null!;

    private string TokenFile => Path.Combine(_directory, "token");

    private SpeculativeWorker.SpeculativeWorkerClient Client => new(_channel);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        await File.WriteAllTextAsync(TokenFile, "first-secret\n");
        _app = WorkerHost.Build(Options(), "127.0.0.1", 0, b => b.Logging.ClearProviders(), _ => WorkerToken.FromFile(TokenFile, _tokenTime));
        await _app.StartAsync();
        _channel = GrpcChannel.ForAddress(_app.BoundAddresses()[0]);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static CallOptions With(string? authorization)
        => new(authorization is null ? null : new Metadata { { "authorization", authorization } }, DateTime.UtcNow.AddSeconds(10));

    [Fact]
    public async Task Every_call_without_the_token_is_unauthenticated()
    {
        var calls = new Func<Task>[]
        {
            () => Client.DescribeAsync(new DescribeRequest(), With(null)).ResponseAsync,
            () => Client.StepAsync(Request(1, New("s", Prompt(4))), With(null)).ResponseAsync,
            () => Client.ReleaseAsync(new ReleaseRequest { SequenceIds = { "s" } }, With(null)).ResponseAsync,
            () => Client.TokenizeAsync(new TokenizeRequest { Prompt = "hi" }, With(null)).ResponseAsync,
            () => Client.DetokenizeAsync(new DetokenizeRequest { TokenIds = { 1 } }, With(null)).ResponseAsync,
        };

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
            Assert.Contains("requires the pool's worker token", error.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(0, _app.Services.GetRequiredService<Laps.Worker.Sim.SimEngine>().HeldSequences); // the Step never ran
    }

    [Theory]
    [InlineData("Bearer second-secret")]
    [InlineData("Bearer first-secre")]
    [InlineData("Basic first-secret")]
    [InlineData("first-secret")]
    public async Task A_wrong_token_is_unauthenticated(string authorization)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.DescribeAsync(new DescribeRequest(), With(authorization)).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains("does not carry this pool's worker token", error.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bearer first-secret")]
    [InlineData("bearer first-secret")]
    public async Task The_right_token_is_served(string authorization)
    {
        var description = await Client.DescribeAsync(new DescribeRequest(), With(authorization));
        var step = await Client.StepAsync(Request(1, New("ok", Prompt(4))), With(authorization));

        Assert.Equal("test-worker", description.WorkerId);
        Assert.NotEmpty(Assert.Single(step.Outputs).TokenIds);
    }

    [Fact]
    public async Task A_rotated_token_is_read_again_and_the_replaced_one_is_accepted_for_its_grace()
    {
        await Client.DescribeAsync(new DescribeRequest(), With("Bearer first-secret"));
        await File.WriteAllTextAsync(TokenFile, "second-secret");

        // Within the reload interval the file is not read again.
        await Assert.ThrowsAsync<RpcException>(() => Client.DescribeAsync(new DescribeRequest(), With("Bearer second-secret")).ResponseAsync);
        _tokenTime.Advance(WorkerToken.ReloadInterval);
        await Client.DescribeAsync(new DescribeRequest(), With("Bearer second-secret"));
        await Client.DescribeAsync(new DescribeRequest(), With("Bearer first-secret"));

        _tokenTime.Advance(WorkerToken.Grace);
        await Client.DescribeAsync(new DescribeRequest(), With("Bearer second-secret"));
        var expired = await Assert.ThrowsAsync<RpcException>(() => Client.DescribeAsync(new DescribeRequest(), With("Bearer first-secret")).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, expired.StatusCode);
    }

    [Fact]
    public async Task A_token_file_emptied_later_keeps_the_last_token()
    {
        await Client.DescribeAsync(new DescribeRequest(), With("Bearer first-secret"));
        await File.WriteAllTextAsync(TokenFile, "   \n");
        _tokenTime.Advance(WorkerToken.ReloadInterval);

        await Client.DescribeAsync(new DescribeRequest(), With("Bearer first-secret"));
    }
}

/// <summary>What a worker token file may hold, and what a worker without one says.</summary>
public sealed class WorkerTokenTests
{
    [Fact]
    public void A_missing_empty_or_malformed_file_is_an_error_naming_the_path()
    {
        var directory = Path.Combine(Path.GetTempPath(), "laps-token-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var missing = Path.Combine(directory, "missing");
            var empty = Path.Combine(directory, "empty");
            var spaced = Path.Combine(directory, "spaced");
            File.WriteAllText(empty, " \n\t");
            File.WriteAllText(spaced, "two words");

            Assert.Equal($"'{missing}' does not exist", Assert.Throws<WorkerTokenException>(() => WorkerToken.FromFile(missing)).Message);
            Assert.Equal($"'{empty}' is empty: it must hold the worker token", Assert.Throws<WorkerTokenException>(() => WorkerToken.FromFile(empty)).Message);
            Assert.StartsWith($"'{spaced}' holds a character a token cannot have at position 3", Assert.Throws<WorkerTokenException>(() => WorkerToken.FromFile(spaced)).Message, StringComparison.Ordinal);
            Assert.StartsWith($"'{directory}' ", Assert.Throws<WorkerTokenException>(() => WorkerToken.FromFile(directory)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_generated_token_is_long_random_and_a_valid_token()
    {
        var a = WorkerToken.Generate();
        var b = WorkerToken.Generate();

        Assert.NotEqual(a, b);
        Assert.Equal(43, a.Length); // 256 bits, base64url without padding
        Assert.True(WorkerToken.Of(a).Accepts("Bearer " + a));
        Assert.False(WorkerToken.Of(a).Accepts("Bearer " + b));
    }

    [Fact]
    public async Task A_worker_without_a_token_warns_once_at_start_that_it_accepts_anyone()
    {
        var logs = new ListLogger();
        var app = WorkerHost.Build(Options(), "127.0.0.1", 0, b =>
        {
            b.Logging.ClearProviders();
            b.Logging.AddProvider(logs);
        });
        await app.StartAsync();
        await app.StopAsync();
        await app.DisposeAsync();

        var warning = Assert.Single(logs.Messages, m => m.Contains("unauthenticated", StringComparison.Ordinal));
        Assert.Contains("--token-file", warning, StringComparison.Ordinal);
    }

    private sealed class ListLogger : ILoggerProvider, ILogger
    {
        public List<string> Messages { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lock (Messages)
                {
                    Messages.Add(formatter(state, exception));
                }
            }
        }

        public void Dispose()
        {
        }
    }
}
