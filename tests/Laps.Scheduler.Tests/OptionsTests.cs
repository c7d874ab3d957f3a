using Laps.Scheduler.Serving;
using Laps.Scheduler.Serving.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Laps.Scheduler.Tests;

public sealed class OptionsTests
{
    public static TheoryData<string, string?, string> BadSettings => new()
    {
        // setting, value, expected fragment of the message
        { "Policy", "fifo", "unknown policy 'fifo'" },
        { "Policy", "oracle", "Policy: 'oracle' cannot run live" },
        { "Workers:0", "no-port", "'no-port' is not a host:port address" },
        { "Workers:0", "host:99999", "'host:99999' is not a host:port address" },
        { "Batch", "-1", "Batch: '-1' must be >= 0" },
        { "MaxQueued", "-1", "MaxQueued: '-1' must be >= 1" },
        { "MaxPromptTokens", "0", "MaxPromptTokens: '0'" },
        { "MaxCompletionTokens", "0", "MaxCompletionTokens: '0'" },
        { "DefaultMaxTokens", "9000", "DefaultMaxTokens: '9000'" },
        { "Model", " ", "Model:" },
        { "StepTimeout", "00:00:00", "StepTimeout:" },
        { "StepSeconds", "-1", "StepSeconds: '-1'" },
        { "PriorAcceptance", "1.5", "PriorAcceptance: '1.5'" },
        { "Laps:Queues", "0", "Laps:Queues: '0' is out of range" },
        { "Mlfq:Levels", "100", "Mlfq:Levels: '100' is out of range" },
        { "Name", " ", "Name: ' ' must be a name of 1..253 characters" },
        { "WorkerTokenFile", "/nonexistent/worker-token", "WorkerTokenFile: '/nonexistent/worker-token' does not exist" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task BadSetting_FailsAtStart_NamingTheValue(string setting, string? value, string fragment)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Scheduler:Workers:0"] = "localhost:5001",
            [$"Scheduler:{setting}"] = value,
        });
        builder.AddLapsScheduler();
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoWorkers_IsRejected()
    {
        var result = new SchedulerOptionsValidator().Validate(null, new SchedulerOptions());

        Assert.True(result.Failed);
        Assert.Contains("Workers: at least one worker", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost:5001")]
    [InlineData("10.0.0.7:80")]
    [InlineData("worker-0.workers.svc:50051")]
    [InlineData("http://worker:8080")]
    [InlineData("[::1]:5001")]
    public void WorkerAddress_Accepts(string address) => Assert.True(WorkerAddress.TryParse(address, out _));

    [Theory]
    [InlineData("")]
    [InlineData("localhost")]
    [InlineData("localhost:0")]
    [InlineData("localhost:port")]
    [InlineData("ftp://worker:21")]
    [InlineData("worker:80/path")]
    public void WorkerAddress_Rejects(string address) => Assert.False(WorkerAddress.TryParse(address, out _));

    [Fact]
    public async Task Defaults_WithOneWorker_AreValid_AndPolicyKnobsBind()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:Policy"] = "laps",
            ["Scheduler:Laps:Queues"] = "6",
            ["Scheduler:Laps:StabilityTolerance"] = "0.1",
        });

        var options = sidecar.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;

        Assert.Equal(6, options.Laps.Queues);
        Assert.Equal(0.1, options.Laps.StabilityTolerance);
        Assert.Equal(2, options.Laps.Theta0Steps); // untouched knobs keep the product default
    }

    [Fact]
    public async Task Variant_paper_is_the_paper_preset_and_knobs_given_beside_it_override_it()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:Laps:Variant"] = "paper",
            ["Scheduler:Laps:Queues"] = "6",
        });

        var options = sidecar.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;

        Assert.Equal(Laps.Scheduling.Policies.LapsOptions.Paper with { Queues = 6 }, options.Laps);
    }

    [Fact]
    public async Task NoWorkerAnswering_ReadyzIs503()
    {
        await using var sidecar = await SidecarHarness.StartAsync(services: s => s.AddSingleton<IWorkerClientFactory>(new UnreachableWorkers()), waitReady: false, grpc: true);

        using var ready = await sidecar.Client.GetAsync(new Uri("/readyz", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    private sealed class UnreachableWorkers : IWorkerClientFactory
    {
        public Laps.Worker.V1.SpeculativeWorker.SpeculativeWorkerClient Create(string address)
            => new(Grpc.Net.Client.GrpcChannel.ForAddress("http://unreachable", new Grpc.Net.Client.GrpcChannelOptions { HttpHandler = new Refusing() }));

        private sealed class Refusing : HttpMessageHandler
        {
            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
                => throw new HttpRequestException("connection refused");
        }
    }
}
