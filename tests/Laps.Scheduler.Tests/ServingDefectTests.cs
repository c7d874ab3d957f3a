using System.Net;
using Laps.Scheduler.Serving;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;
using Microsoft.Extensions.DependencyInjection;

namespace Laps.Scheduler.Tests;

/// <summary>
/// Defects found by reading the serving path and by attacking it on loopback; each test failed before its fix.
/// </summary>
public sealed class ServingDefectTests
{
    [Fact]
    public async Task ClientCancelsWhileItsStepFails_TheRequestIsNotComputedOnAnotherWorker()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:MaxStepFailures"] = "1" }, workers: 2);
        foreach (var worker in sidecar.Workers)
        {
            worker.Manual = true;
        }

        var admitted = new TaskCompletionSource<LiveRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        sidecar.Pool.Admitted += r => admitted.TrySetResult(r);
        using var cts = new CancellationTokenSource();
        var response = await sidecar.SendStreamingAsync("/v1/completions", new { prompt = "long", max_tokens = 90, stream = true }, cts.Token);
        await Task.WhenAny(sidecar.Workers.Select(w => w.Steps.WaitAsync(_ => true)));
        var failing = sidecar.Workers.Single(w => w.Steps.Count > 0);
        var other = sidecar.Workers.Single(w => w != failing);
        var id = failing.Steps.Snapshot()[0].Batch[0].SequenceId;

        // The client goes away while the step is in flight (the sidecar sees it), and then that step fails.
        await cts.CancelAsync();
        response.Dispose();
        var live = await admitted.Task;
        await Task.Delay(Timeout.InfiniteTimeSpan, live.Aborted).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(EventLog<int>.Timeout);
        failing.FailSteps = 1;
        failing.Allow();

        // Another request runs (on either worker, once the failed one answers again); the abandoned one never runs again.
        foreach (var worker in sidecar.Workers)
        {
            worker.Manual = false;
            worker.Allow(100);
        }

        using var next = await sidecar.PostAsync("/v1/completions", new { prompt = "next", max_tokens = 3 });
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Single(sidecar.Workers.SelectMany(w => w.Steps.Snapshot()), s => s.Batch.Any(b => b.SequenceId == id)); // the failed step
        Assert.Equal(0, sidecar.Pool.Held);
    }

    [Fact]
    public async Task RetiredWorkerWithNowhereToHandOff_KeepsServingWithoutResendingPrompts()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        var worker = sidecar.Worker;
        worker.Manual = true;
        var response = sidecar.PostAsync("/v1/completions", new { prompt = new[] { 5, 6, 7 }, max_tokens = 12 });
        await worker.Steps.WaitAsync(_ => true);

        sidecar.Pool.SetWorkers([]); // it leaves; no other worker can take the request
        worker.Allow(100);
        using var ok = await response;

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(12, (await SidecarHarness.JsonAsync(ok)).GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var steps = worker.Steps.Snapshot();
        Assert.Equal(4, steps.Count); // 3 tokens a step, no step lost to re-admission
        Assert.All(steps.Skip(1), s => Assert.Empty(s.Batch[0].PromptTokenIds)); // its KV stayed where it was
    }

    [Fact]
    public async Task ALoopThatDies_FailsItsRequestsWithAnErrorBody_AndTheWorkerIsNotReady()
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            services: s => s.AddSingleton<ILengthPredictor>(new ThrowingPredictor()));

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("internal_error", error.GetProperty("code").GetString());
        using var ready = await sidecar.Client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task BatchesFitTheWorkersKv_EveryRequestIsServedWithoutARefusedStep()
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            new Dictionary<string, string?> { ["Scheduler:MaxPromptTokens"] = "4000", ["Scheduler:Batch"] = "8" },
            workers: 2,
            configureWorkers: w => w.KvCapacity = 3000,
            grpc: true); // RESOURCE_EXHAUSTED as the worker protocol carries it
        var prompt = Enumerable.Range(1, 600).ToArray();

        // Each fits alone; 12 together need 2.5 times what the two workers hold.
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => sidecar.PostAsync("/v1/completions", new { prompt, max_tokens = 6 })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(sidecar.Workers, w => Assert.Equal(0, w.Refused));
        foreach (var r in responses)
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task ARequestThatCanNeverFit_Gets400ContextLengthExceeded()
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            new Dictionary<string, string?> { ["Scheduler:MaxPromptTokens"] = "4000" },
            workers: 2,
            configureWorkers: w => w.KvCapacity = 3000);

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = Enumerable.Range(1, 3500).ToArray(), max_tokens = 6 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.All(sidecar.Workers, w => Assert.Equal(0, w.Steps.Count));
    }

    [Fact]
    public async Task AHungWorker_IsFoundByItsOwnStepTime_AndItsRequestFinishesElsewhere()
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            new Dictionary<string, string?> { ["Scheduler:MinStepTimeout"] = "00:00:00.200" }, workers: 2, grpc: true); // a real gRPC deadline
        foreach (var worker in sidecar.Workers)
        {
            worker.Manual = true;
        }

        var response = sidecar.PostAsync("/v1/completions", new { prompt = new[] { 3 }, max_tokens = 9 });
        await Task.WhenAny(sidecar.Workers.Select(w => w.Steps.WaitAsync(_ => true)));
        var hung = sidecar.Workers.Single(w => w.Steps.Count > 0);
        var healthy = sidecar.Workers.Single(w => w != hung);
        healthy.Manual = false;
        hung.Hung = true;
        hung.Allow(); // one step goes through (about a millisecond), then the worker stops answering anything

        using var ok = await response; // within the one bounded wait: the default deadline alone is 30 s

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(" w1000 w1001 w1002 w1003 w1004 w1005 w1006 w1007 w1008", (await SidecarHarness.JsonAsync(ok)).GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal([1000, 1001, 1002], healthy.Steps.Snapshot()[0].Batch[0].GeneratedTokenIds);
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.001, true)]
    public async Task StepDeadlines_FollowTheStepTime_ExceptForAnEngineAdapterThatBoundsItsOwnSteps(double resumeSecondsPerToken, bool adapter)
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            new Dictionary<string, string?> { ["Scheduler:MinStepTimeout"] = "00:00:00.200", ["Scheduler:StepTimeout"] = "00:00:30" },
            configureWorkers: w => w.ResumeSecondsPerToken = resumeSecondsPerToken);

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 9 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var deadlines = sidecar.Worker.StepTimeouts.Snapshot();
        Assert.Equal(TimeSpan.FromSeconds(adapter ? 60 : 30), deadlines[0]); // before any step: the longest
        Assert.Equal(adapter ? TimeSpan.FromSeconds(60) : TimeSpan.FromMilliseconds(200), deadlines[^1]); // then its own step time, floored
    }

    [Fact]
    public async Task RequestsWaitInThePool_AnIdleWorkerTakesThemWhileAnotherIsBusy()
    {
        await using var sidecar = await SidecarHarness.StartAsync(new Dictionary<string, string?> { ["Scheduler:Batch"] = "1" }, workers: 2);
        foreach (var worker in sidecar.Workers)
        {
            worker.Manual = true;
        }

        var first = sidecar.PostAsync("/v1/completions", new { prompt = "slow", max_tokens = 3 });
        await Task.WhenAny(sidecar.Workers.Select(w => w.Steps.WaitAsync(_ => true)));
        var busy = sidecar.Workers.Single(w => w.Steps.Count > 0);
        var idle = sidecar.Workers.Single(w => w != busy);
        idle.Manual = false;

        // Bound at admission, half of these would wait behind the busy worker's step for good.
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => sidecar.PostAsync("/v1/completions", new { prompt = $"r{i}", max_tokens = 3 })));

        Assert.All(others, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, busy.Steps.Count);
        busy.Allow(10);
        using var firstResponse = await first;
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
        foreach (var r in others)
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task AFailedStep_IsCounted()
    {
        await using var sidecar = await SidecarHarness.StartAsync();
        sidecar.Worker.FailSteps = 1;

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var metrics = await sidecar.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("laps_worker_step_failures_total{worker=\"worker-0:5000\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACoreThatThrowsOnAdmission_Gets500WithAnErrorBody_AndLosesNothingElse()
    {
        await using var sidecar = await SidecarHarness.StartAsync(
            services: s => s.AddSingleton<ILengthPredictor>(new ThrowingPredictor { ThrowOnPredict = true }));

        using var response = await sidecar.PostAsync("/v1/completions", new { prompt = "x", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("internal_error", (await SidecarHarness.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, sidecar.Pool.Held);
    }

    /// <summary>A predictor whose learning step throws: a defect inside the serving loop, as an oracle policy has live.</summary>
    private sealed class ThrowingPredictor : ILengthPredictor
    {
        public string Name => "throwing";

        public bool ThrowOnPredict { get; init; }

        public double Predict(RequestState request) => ThrowOnPredict ? throw new InvalidOperationException("broken predictor") : 10;

        public void Observe(RequestState request, int trueLength) => throw new InvalidOperationException("broken predictor");
    }
}
