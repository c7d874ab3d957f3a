using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Laps.Scheduler.Serving;

namespace Laps.Scheduler.Tests;

public sealed class AdmissionTests
{
    [Fact]
    public async Task FullQueue_Gets429WithRetryAfter()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Scheduler:Batch"] = "1",
            ["Scheduler:MaxQueued"] = "1",
            ["Scheduler:RetryAfterSeconds"] = "3",
        });
        sidecar.Worker.Manual = true;
        var running = sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });
        await sidecar.Worker.Steps.WaitAsync(s => s.Batch.Count == 1); // A holds the only slot

        // One of B and C takes the one waiting place; the other is turned away at once.
        var b = sidecar.PostAsync("/v1/completions", new { prompt = "b", max_tokens = 3 });
        var c = sidecar.PostAsync("/v1/completions", new { prompt = "c", max_tokens = 3 });
        var first = await Task.WhenAny(b, c).WaitAsync(EventLog<int>.Timeout);
        using var rejected = await first;

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), rejected.Headers.RetryAfter?.Delta);
        var error = (await SidecarHarness.JsonAsync(rejected)).GetProperty("error");
        Assert.Equal("queue_full", error.GetProperty("code").GetString());

        sidecar.Worker.Allow(100);
        using var a = await running;
        using var other = await (first == b ? c : b);
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task ShuttingDown_NewRequestsGet503_AdmittedOnesFinish()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        sidecar.Worker.Manual = true;
        var admitted = sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 6 });
        await sidecar.Worker.Steps.WaitAsync(_ => true);

        sidecar.Pool.StopAccepting();
        using var refused = await sidecar.PostAsync("/v1/completions", new { prompt = "b" });
        using var ready = await sidecar.Client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.False(sidecar.Pool.Drained.IsCompleted);
        sidecar.Worker.Allow(10);
        using var finished = await admitted;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("shutting_down", (await SidecarHarness.JsonAsync(refused)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
        await sidecar.Pool.Drained.WaitAsync(EventLog<int>.Timeout);
    }

    [Fact]
    public async Task Routing_SendsTheNextRequestToTheLeastLoadedWorker()
    {
        await using var sidecar = await SidecarHarness.StartAsync(workers: 2);
        foreach (var worker in sidecar.Workers)
        {
            worker.Manual = true;
        }

        var first = sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });
        var busy = await Task.WhenAny(sidecar.Workers.Select(w => w.Steps.WaitAsync(_ => true).ContinueWith(_ => w, TaskScheduler.Default)));
        var second = sidecar.PostAsync("/v1/completions", new { prompt = "b", max_tokens = 3 });
        var idle = sidecar.Workers.Single(w => w != busy.Result);
        await idle.Steps.WaitAsync(_ => true);

        Assert.Equal(1, busy.Result.Steps.Count);
        foreach (var worker in sidecar.Workers)
        {
            worker.Allow(10);
        }

        using var a = await first;
        using var b = await second;
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
    }

    [Fact]
    public async Task ClientDisconnect_CancelsTheRequestAndReleasesItsSequence()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        using var cts = new CancellationTokenSource();
        var response = await sidecar.SendStreamingAsync("/v1/completions", new { prompt = "long", max_tokens = 500, stream = true }, cts.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        Assert.NotNull(await Sse.NextAsync(reader)); // it is running
        var id = sidecar.Worker.Steps.Snapshot()[0].Batch[0].SequenceId;

        await cts.CancelAsync();
        reader.Dispose();
        response.Dispose();

        await sidecar.Worker.Released.WaitAsync(r => r == id);
        Assert.False(sidecar.Worker.Holds(id));
        Assert.Equal(0, sidecar.Services.GetRequiredService<WorkerPool>().Held);
    }
}
