using Grpc.Core;
using Grpc.Net.Client;
using Laps.Worker.Sim;
using Laps.Worker.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static Laps.Worker.Tests.Builders;
using static Laps.Worker.Tests.GrpcLoopbackTests;

namespace Laps.Worker.Tests;

/// <summary>The service over an in-memory TestServer with a fake clock: step time passes only when the test says so.</summary>
public sealed class FakeClockTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly SimWorkerOptions _options = Options(k: 2) with { TimeScale = 1, Workload = "chat" };
    private WebApplication _app = null!;
    private GrpcChannel _channel = null!;

    private SpeculativeWorker.SpeculativeWorkerClient Client => new(_channel);

    private SimEngine Engine => _app.Services.GetRequiredService<SimEngine>();

    public async Task InitializeAsync()
    {
        _app = WorkerHost.Build(_options, "127.0.0.1", 0, b =>
        {
            b.WebHost.UseTestServer();
            b.Logging.ClearProviders();
            b.Services.AddSingleton<TimeProvider>(_time);
        });
        await _app.StartAsync();
        var server = _app.GetTestServer();
        _channel = GrpcChannel.ForAddress(server.BaseAddress, new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task A_step_completes_only_when_its_modelled_time_has_passed_on_the_injected_clock()
    {
        var prompt = Prompt(100);
        var modelled = _options.StepTime.StepSeconds(_options.Proposer, 2, 1, prefillTokens: 100, kvTokens: 100);
        using var call = Client.StepAsync(Request(1, New("s", prompt)), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)));
        await Until(() => Engine.Holds("s"));

        // The engine holds the sequence and waits on the fake clock: only advancing it releases the step.
        await Task.Yield();
        Assert.False(call.ResponseAsync.IsCompleted);
        while (!call.ResponseAsync.IsCompleted)
        {
            _time.Advance(TimeSpan.FromSeconds(modelled));
            await Task.WhenAny(call.ResponseAsync, Task.Delay(10));
        }

        var response = await call.ResponseAsync;
        Assert.True(response.ElapsedS >= modelled - 1e-6, $"elapsed {response.ElapsedS} < modelled {modelled}");
        Assert.True(Assert.Single(response.Outputs).Prefilled);
    }

    [Fact]
    public async Task A_step_cancelled_while_it_waits_drops_its_batch_so_the_scheduler_recomputes_it()
    {
        using var cancel = new CancellationTokenSource();
        using var call = Client.StepAsync(Request(1, New("c", Prompt(50))), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancel.Token));
        await Until(() => Engine.Holds("c"));

        await cancel.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        await Until(() => !Engine.Holds("c"));

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal(0, Engine.KvTokensInUse);
    }

    [Fact]
    public async Task Steps_are_serialized_while_release_runs_concurrently()
    {
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10));
        using var first = Client.StepAsync(Request(1, New("first", Prompt(10))), options);
        await Until(() => Engine.Holds("first"));
        using var second = Client.StepAsync(Request(1, New("second", Prompt(10, first: 5000))), options);

        // While the first waits on the clock, Release is answered and the second has not started.
        var released = await Client.ReleaseAsync(new ReleaseRequest { SequenceIds = { "unknown" } }, options);
        Assert.Equal(0, released.Released);
        Assert.False(Engine.Holds("second"));

        while (!second.ResponseAsync.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.WhenAny(second.ResponseAsync, Task.Delay(10));
        }

        Assert.True(first.ResponseAsync.IsCompletedSuccessfully);
        Assert.True(Assert.Single((await second.ResponseAsync).Outputs).Prefilled);
    }

    private static async Task Until(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(5, timeout.Token);
        }
    }
}
