using System.Collections.Concurrent;
using Laps.Operator.Controller;
using Microsoft.Extensions.Time.Testing;

namespace Laps.Operator.Tests;

public sealed class WorkQueueTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Keys_added_twice_while_waiting_come_out_once_in_fifo_order()
    {
        using var queue = new WorkQueue(new FakeTimeProvider());
        queue.Add("a");
        queue.Add("b");
        queue.Add("a");

        Assert.Equal(2, queue.Depth);
        Assert.Equal("a", await queue.GetAsync(CancellationToken.None));
        Assert.Equal("b", await queue.GetAsync(CancellationToken.None));
        Assert.Equal(0, queue.Depth);
    }

    [Fact]
    public async Task A_key_added_while_processing_is_handed_out_again_only_after_Done()
    {
        using var queue = new WorkQueue(new FakeTimeProvider());
        queue.Add("a");
        var key = await queue.GetAsync(CancellationToken.None);

        queue.Add("a");
        Assert.Equal(0, queue.Depth);
        var next = queue.GetAsync(CancellationToken.None);
        Assert.False(next.IsCompleted);

        queue.Done(key!);
        Assert.Equal("a", await next.WaitAsync(Bound));
    }

    [Fact]
    public async Task Many_workers_and_concurrent_adds_never_process_one_key_twice_at_once_and_lose_no_add()
    {
        using var queue = new WorkQueue(new FakeTimeProvider());
        var keys = Enumerable.Range(0, 8).Select(i => $"ns/pool-{i}").ToArray();
        var inFlight = new ConcurrentDictionary<string, int>();
        var addedVersion = new ConcurrentDictionary<string, int>();
        var processedVersion = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var addersDone = false;
        var caughtUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (await queue.GetAsync(CancellationToken.None) is { } key)
            {
                // What this pass sees: every add up to now is covered by it.
                var seen = addedVersion.GetValueOrDefault(key);
                if (inFlight.AddOrUpdate(key, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                await Task.Yield();
                processedVersion.AddOrUpdate(key, seen, (_, v) => Math.Max(v, seen));
                inFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
                queue.Done(key);
                if (Volatile.Read(ref addersDone) && keys.All(k => processedVersion.GetValueOrDefault(k) == addedVersion.GetValueOrDefault(k)))
                {
                    caughtUp.TrySetResult();
                }
            }
        })).ToArray();

        var adders = Enumerable.Range(0, 8).Select(a => Task.Run(async () =>
        {
            for (var i = 0; i < 2000; i++)
            {
                var key = keys[(i * 7 + a) % keys.Length];
                addedVersion.AddOrUpdate(key, 1, (_, v) => v + 1);
                queue.Add(key);
                if (i % 64 == 0)
                {
                    await Task.Yield();
                }
            }
        })).ToArray();

        await Task.WhenAll(adders).WaitAsync(Bound);
        Volatile.Write(ref addersDone, true);
        // Every add is covered by a later pass (a lost add would leave a key behind and time out here).
        queue.Add(keys[0]);
        await caughtUp.Task.WaitAsync(Bound);
        await queue.ShutDownWithDrainAsync(CancellationToken.None).WaitAsync(Bound);
        await Task.WhenAll(workers).WaitAsync(Bound);

        Assert.Equal(0, overlaps);
        Assert.All(keys, k => Assert.Equal(addedVersion[k], processedVersion[k]));
    }

    [Fact]
    public async Task AddAfter_hands_the_key_out_only_when_the_delay_has_passed()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue(time);
        queue.AddAfter("a", TimeSpan.FromSeconds(5));
        var next = queue.GetAsync(CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("a", await next.WaitAsync(Bound));
    }

    [Fact]
    public async Task AddRateLimited_backs_off_longer_per_failure_and_Forget_starts_over()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue(time, new RateLimiter(time, baseDelay: TimeSpan.FromSeconds(1)));
        var waits = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            waits.Add(await WaitForRequeue(time, queue, "a"));
        }

        queue.Forget("a");
        var afterForget = await WaitForRequeue(time, queue, "a");

        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)], waits);
        Assert.Equal(TimeSpan.FromSeconds(1), afterForget);
    }

    [Fact]
    public void Backoff_is_per_key()
    {
        var limiter = new RateLimiter(new FakeTimeProvider(), baseDelay: TimeSpan.FromSeconds(1));
        limiter.When("a");
        limiter.When("a");

        Assert.Equal(TimeSpan.FromSeconds(1), limiter.When("b"));
        Assert.Equal(TimeSpan.FromSeconds(4), limiter.When("a"));
    }

    [Fact]
    public void Backoff_stops_growing_at_the_cap()
    {
        var limiter = new RateLimiter(new FakeTimeProvider(), baseDelay: TimeSpan.FromSeconds(1), maxDelay: TimeSpan.FromSeconds(30));
        var waits = Enumerable.Range(0, 100).Select(_ => limiter.When("a")).ToList();

        Assert.Equal(TimeSpan.FromSeconds(16), waits[4]);
        Assert.All(waits.Skip(5), w => Assert.Equal(TimeSpan.FromSeconds(30), w));
    }

    [Fact]
    public void A_storm_of_failures_is_throttled_overall_once_the_burst_is_spent()
    {
        var limiter = new RateLimiter(new FakeTimeProvider(), baseDelay: TimeSpan.FromMilliseconds(1), ratePerSecond: 10, burst: 2);
        limiter.When("a");
        limiter.When("b");

        Assert.Equal(TimeSpan.FromMilliseconds(100), limiter.When("c"));
    }

    [Fact]
    public async Task After_ShutDown_no_key_is_taken_or_handed_out()
    {
        using var queue = new WorkQueue(new FakeTimeProvider());
        queue.Add("a");
        using var waiting = new WorkQueue(new FakeTimeProvider());
        var blocked = waiting.GetAsync(CancellationToken.None);

        queue.ShutDown();
        waiting.ShutDown();
        queue.Add("b");

        Assert.Null(await queue.GetAsync(CancellationToken.None).WaitAsync(Bound));
        Assert.Null(await blocked.WaitAsync(Bound));
    }

    [Fact]
    public async Task ShutDownWithDrain_waits_for_the_key_in_flight()
    {
        using var queue = new WorkQueue(new FakeTimeProvider());
        queue.Add("a");
        var key = await queue.GetAsync(CancellationToken.None);

        var drained = queue.ShutDownWithDrainAsync(CancellationToken.None);
        Assert.False(drained.IsCompleted);
        queue.Done(key!);

        await drained.WaitAsync(Bound);
    }

    // Requeues the key rate-limited and advances fake time one second at a time until it comes out.
    private static async Task<TimeSpan> WaitForRequeue(FakeTimeProvider time, WorkQueue queue, string key)
    {
        queue.AddRateLimited(key);
        var next = queue.GetAsync(CancellationToken.None);
        var waited = TimeSpan.Zero;
        // Depth turns 1 synchronously when the timer fires; the reader may wake later, on the thread pool.
        while (!next.IsCompleted && queue.Depth == 0)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            waited += TimeSpan.FromSeconds(1);
        }

        queue.Done((await next.WaitAsync(Bound))!);
        return waited;
    }
}
