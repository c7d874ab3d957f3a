using CsCheck;
using Laps.Scheduling.Kv;

namespace Laps.Scheduling.Tests.Kv;

public sealed class KvCacheTests
{
    [Fact]
    public void Resident_tokens_count_what_was_admitted_and_grown_until_evicted()
    {
        var cache = new KvCache<string>(100);
        cache.BeginBatch();
        var a = cache.Admit("a", 10);
        var b = cache.Admit("b", 20);
        cache.Grow(a, 5);

        Assert.Equal(35, cache.TokensInUse);
        Assert.Equal(2, cache.Count);
        Assert.Equal(15, a.Tokens);

        cache.Evict(a);
        cache.Evict(a); // already gone: ignored

        Assert.False(a.IsResident);
        Assert.True(b.IsResident);
        Assert.Equal(20, cache.TokensInUse);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Room_is_made_by_evicting_the_least_recently_used_sequences_outside_the_batch_in_that_order()
    {
        var cache = new KvCache<string>(100);
        cache.BeginBatch();
        var a = cache.Admit("a", 30);
        var b = cache.Admit("b", 30);
        var c = cache.Admit("c", 30);
        cache.BeginBatch();
        cache.Touch(a); // a is now the most recently used: b, then c, go first
        var d = cache.Admit("d", 30);
        var evicted = new List<string>();

        Assert.True(cache.MakeRoom(growthTokens: 0, evicted));
        Assert.Equal(["b"], evicted);

        Assert.True(cache.MakeRoom(growthTokens: 30, evicted));
        Assert.Equal(["b", "c"], evicted);
        Assert.True(a.IsResident && d.IsResident);
        Assert.False(b.IsResident || c.IsResident);
        Assert.Equal(60, cache.TokensInUse);
    }

    [Fact]
    public void Nothing_is_evicted_while_the_batch_and_its_growth_fit()
    {
        var cache = new KvCache<string>(100);
        cache.BeginBatch();
        cache.Admit("old", 50);
        cache.BeginBatch();
        cache.Admit("new", 40);

        Assert.True(cache.MakeRoom(growthTokens: 10));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void The_batch_is_never_evicted_even_when_it_does_not_fit()
    {
        var cache = new KvCache<string>(100);
        cache.BeginBatch();
        cache.Admit("outside", 10);
        cache.BeginBatch();
        var x = cache.Admit("x", 60);
        var y = cache.Admit("y", 50);
        var evicted = new List<string>();

        Assert.False(cache.MakeRoom(growthTokens: 0, evicted));
        Assert.Equal(["outside"], evicted);
        Assert.True(x.IsResident && y.IsResident);
        Assert.Equal(110, cache.TokensInUse);
    }

    [Fact]
    public void A_new_batch_ends_the_protection_of_the_previous_one()
    {
        var cache = new KvCache<string>(100);
        cache.BeginBatch();
        var first = cache.Admit("first", 60);
        cache.BeginBatch();
        cache.Admit("second", 60);
        var evicted = new List<string>();

        Assert.True(cache.MakeRoom(0, evicted));
        Assert.Equal(["first"], evicted);
        Assert.False(first.IsResident);
    }

    [Fact]
    public void An_evicted_sequence_cannot_be_touched_or_grown()
    {
        var cache = new KvCache<string>(100);
        cache.BeginBatch();
        var a = cache.Admit("a", 10);
        cache.Evict(a);

        Assert.Throws<InvalidOperationException>(() => cache.Touch(a));
        Assert.Throws<InvalidOperationException>(() => cache.Grow(a, 1));
    }

    [Fact]
    public void Capacity_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache<string>(0));
    }

    /// <summary>
    /// Random placements, growth, evictions and room-making against a list kept in least-recently-used order: the
    /// cache holds the same sequences with the same tokens, evicts the same ones in the same order, and says whether
    /// the batch fits as the reference does.
    /// </summary>
    [Fact]
    public void Random_steps_match_a_reference_lru_list()
    {
        var step = Gen.Select(Gen.Int[0, 7].Array[0, 4], Gen.Int[0, 12], Gen.Int[0, 7], Gen.Int[0, 40]);
        step.Array[1, 40].Sample(
            steps =>
            {
                const long capacity = 120;
                var cache = new KvCache<string>(capacity);
                var entries = new Dictionary<int, KvEntry<string>>();
                var reference = new List<(int Id, long Tokens)>(); // least recently used first
                foreach (var (batch, grow, leaver, growth) in steps)
                {
                    cache.BeginBatch();
                    var members = batch.Distinct().ToArray();
                    foreach (var id in members)
                    {
                        var at = reference.FindIndex(e => e.Id == id);
                        if (at >= 0)
                        {
                            cache.Touch(entries[id]);
                            var kept = reference[at];
                            reference.RemoveAt(at);
                            reference.Add(kept);
                        }
                        else
                        {
                            entries[id] = cache.Admit($"s{id}", 10 + id);
                            reference.Add((id, 10 + id));
                        }
                    }

                    var evicted = new List<string>();
                    var fits = cache.MakeRoom(growth, evicted);
                    var expectedEvicted = new List<string>();
                    while (reference.Sum(e => e.Tokens) + growth > capacity && reference.Count > 0 && !members.Contains(reference[0].Id))
                    {
                        expectedEvicted.Add($"s{reference[0].Id}");
                        reference.RemoveAt(0);
                    }

                    Assert.Equal(expectedEvicted, evicted);
                    Assert.Equal(reference.Sum(e => e.Tokens) + growth <= capacity, fits);

                    foreach (var id in members)
                    {
                        cache.Grow(entries[id], grow);
                        var at = reference.FindIndex(e => e.Id == id);
                        reference[at] = (id, reference[at].Tokens + grow);
                    }

                    if (reference.FindIndex(e => e.Id == leaver) is var gone and >= 0)
                    {
                        cache.Evict(entries[leaver]);
                        reference.RemoveAt(gone);
                    }

                    Assert.Equal(reference.Sum(e => e.Tokens), cache.TokensInUse);
                    Assert.Equal(reference.Count, cache.Count);
                    Assert.All(entries, kv => Assert.Equal(reference.Exists(e => e.Id == kv.Key), kv.Value.IsResident));
                    Assert.All(reference, e => Assert.Equal(e.Tokens, entries[e.Id].Tokens));
                }
            },
            iter: 200,
            threads: 1);
    }
}
