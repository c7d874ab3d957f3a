using System.Net;

namespace Laps.Scheduler.Tests;

/// <summary>The worker set follows discovery: workers join and leave while requests run.</summary>
public sealed class MembershipTests
{
    [Fact]
    public async Task WorkerLeavesThePool_ItsRequestFinishesOnAnother_NothingLostOrRepeated()
    {
        await using var sidecar = await SidecarHarness.StartAsync(workers: 2);
        foreach (var worker in sidecar.Workers)
        {
            worker.Manual = true;
        }

        // Requests wait in the pool: whichever worker takes it first is the one that leaves.
        var response = sidecar.PostAsync("/v1/completions", new { prompt = new[] { 7 }, max_tokens = 9 });
        await Task.WhenAny(sidecar.Workers.Select(w => w.Steps.WaitAsync(_ => true)));
        var leaving = sidecar.Workers.Single(w => w.Steps.Count > 0);
        var staying = sidecar.Workers.Single(w => w != leaving);
        staying.Manual = false;
        var leavingLoop = sidecar.Pool.Loops.Single(l => l.Name == leaving.Name);
        leaving.Allow();
        await leaving.Steps.WaitAsync(_ => true, skip: 1); // the second step is in flight when the worker leaves

        sidecar.Pool.SetWorkers([staying.Name]);
        leaving.Allow();
        using var ok = await response;

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var body = await SidecarHarness.JsonAsync(ok);
        Assert.Equal(" w1000 w1001 w1002 w1003 w1004 w1005 w1006 w1007 w1008", body.GetProperty("choices")[0].GetProperty("text").GetString());
        var resumed = staying.Steps.Snapshot()[0].Batch[0];
        Assert.Equal([7], resumed.PromptTokenIds);
        Assert.Equal([1000, 1001, 1002, 1003, 1004, 1005], resumed.GeneratedTokenIds); // what the left worker produced
        Assert.Equal(2, leaving.Steps.Count);
        Assert.Equal(resumed.SequenceId, await leaving.Released.WaitAsync(_ => true)); // the left worker may drop it

        await leavingLoop.Run.WaitAsync(EventLog<int>.Timeout);
        var metrics = await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("laps_migrated_requests_total 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain($"laps_requests_running{{worker=\"{leaving.Name}\"}}", metrics, StringComparison.Ordinal);
        Assert.Equal(0, sidecar.Pool.Held);
    }

    [Fact]
    public async Task WorkerJoinsThePool_ItTakesNewRequests()
    {
        await using var sidecar = await SidecarHarness.StartAsync(workers: 2);
        sidecar.Pool.SetWorkers(["worker-0:5000"]);
        sidecar.Workers[0].Manual = true;
        var first = sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });
        await sidecar.Workers[0].Steps.WaitAsync(_ => true);

        sidecar.Pool.SetWorkers(["worker-0:5000", "worker-1:5000"]);
        await Task.WhenAll(sidecar.Pool.Loops.Select(l => l.Described)).WaitAsync(EventLog<int>.Timeout);
        using var second = await sidecar.PostAsync("/v1/completions", new { prompt = "b", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(1, sidecar.Workers[1].Steps.Count); // the least-loaded worker is the one that just joined
        sidecar.Workers[0].Allow(10);
        using var firstResponse = await first;
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
    }

    [Fact]
    public async Task NoWorkerInThePool_NewRequestsGet503WithRetryAfter()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        sidecar.Pool.SetWorkers([]);

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("no_workers", error.GetProperty("code").GetString());
        using var ready = await sidecar.Client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }
}
