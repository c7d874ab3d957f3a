using CsCheck;
using Laps.Scheduling.Collections;
using Laps.Scheduling.Policies;
using Laps.Scheduling.Requests;
using static Laps.Scheduling.Tests.Builders.RequestBuilder;

namespace Laps.Scheduling.Tests.Collections;

public sealed class IndexedHeapTests
{
    private enum Op
    {
        Insert,
        Update,
        Remove,
    }

    /// <summary>
    /// Random inserts, key updates and removals against a reference dictionary; after every operation the heap's
    /// count, minimum, keys and TopK (with and without a skip predicate) match the reference sorted by priority.
    /// Keys come from a small range so that ties, broken by the secondary key and the id, are common.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Random_operations_match_a_sorted_reference(int slot)
    {
        var ops = Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 40], Gen.Int[-2, 2], Gen.Int[0, 5], Gen.Int[0, 12]).Array[0, 120];
        ops.Sample(
            operations =>
            {
                var heap = new IndexedHeap(slot);
                var reference = new Dictionary<PolicyEntry, Priority>();
                var entries = Enumerable.Range(0, 41).Select(i => Entry(i)).ToArray();
                foreach (var (op, who, level, primary, k) in operations)
                {
                    var r = entries[who];
                    var key = new Priority(level, primary, (who * 7) % 3, r.Request.Id);
                    switch (op)
                    {
                        case Op.Insert when !reference.ContainsKey(r):
                            heap.Insert(r, key);
                            reference[r] = key;
                            break;
                        case Op.Update when reference.ContainsKey(r):
                            heap.Update(r, key);
                            reference[r] = key;
                            break;
                        case Op.Remove:
                            Assert.Equal(reference.Remove(r), heap.Remove(r));
                            break;
                        default:
                            break;
                    }

                    var sorted = reference.OrderBy(kv => kv.Value).Select(kv => kv.Key.Request).ToList();
                    Assert.Equal(reference.Count, heap.Count);
                    if (sorted.Count > 0)
                    {
                        Assert.Same(sorted[0], heap.Peek().Request);
                        Assert.Equal(reference[heap.Peek()], heap.PeekKey());
                    }

                    Assert.Equal(sorted.Take(k), TopK(heap, k));
                    Assert.Equal(sorted.Where(q => !Skip(q)).Take(k), TopK(heap, k, Skip));
                }

                foreach (var q in entries)
                {
                    Assert.Equal(reference.TryGetValue(q, out var expected), heap.Contains(q));
                    if (heap.Contains(q))
                    {
                        Assert.Equal(expected, heap.KeyOf(q));
                    }
                }
            },
            iter: 150,
            threads: 1);
    }

    [Fact]
    public void An_entry_can_sit_in_both_slots_with_different_keys()
    {
        var first = new IndexedHeap(0);
        var second = new IndexedHeap(1);
        PolicyEntry a = Entry(1), b = Entry(2);
        first.Insert(a, new Priority(0, 1, 0, 1));
        first.Insert(b, new Priority(0, 2, 0, 2));
        second.Insert(a, new Priority(0, 9, 0, 1));
        second.Insert(b, new Priority(0, 3, 0, 2));

        first.Remove(b);

        Assert.Same(a, first.Peek());
        Assert.Same(b, second.Peek());
        Assert.True(second.Contains(b));
        Assert.False(first.Contains(b));
    }

    [Fact]
    public void TopK_does_not_change_the_heap()
    {
        var heap = new IndexedHeap(0);
        foreach (var r in Enumerable.Range(0, 10).Select(i => Entry(i)))
        {
            heap.Insert(r, new Priority(0, 10 - r.Request.Id, 0, r.Request.Id));
        }

        var once = TopK(heap, 4);
        var twice = TopK(heap, 4);

        Assert.Equal(once, twice);
        Assert.Equal(10, heap.Count);
    }

    [Fact]
    public void TopK_grows_past_its_initial_scratch_and_storage()
    {
        var heap = new IndexedHeap(0);
        var entries = Enumerable.Range(0, 500).Select(i => Entry(i)).ToArray();
        foreach (var e in entries.Reverse())
        {
            heap.Insert(e, new Priority(0, e.Request.Id % 17, 0, e.Request.Id));
        }

        var requests = entries.Select(e => e.Request).ToArray();

        var expected = requests.OrderBy(r => r.Id % 17).ThenBy(r => r.Id).Take(300);

        Assert.Equal(expected, TopK(heap, 300));
        Assert.Equal(requests.OrderBy(r => r.Id % 17).ThenBy(r => r.Id).Where(r => r.Id % 2 == 1).Take(200), TopK(heap, 200, r => r.Id % 2 == 0));
    }

    [Fact]
    public void TopK_of_an_empty_heap_or_into_an_empty_span_is_nothing()
    {
        var heap = new IndexedHeap(0);
        Assert.Empty(TopK(heap, 3));
        heap.Insert(Entry(1), new Priority(0, 0, 0, 1));
        Assert.Empty(TopK(heap, 0));
    }

    [Fact]
    public void Inserting_a_queued_request_again_throws()
    {
        var heap = new IndexedHeap(0);
        var r = Entry(5);
        heap.Insert(r, default);

        Assert.Throws<InvalidOperationException>(() => heap.Insert(r, default));
    }

    [Fact]
    public void Updating_a_request_that_is_not_queued_throws()
    {
        Assert.Throws<InvalidOperationException>(() => new IndexedHeap(0).Update(Entry(5), default));
    }

    [Fact]
    public void Removing_a_request_that_is_not_queued_returns_false()
    {
        Assert.False(new IndexedHeap(0).Remove(Entry(5)));
    }

    [Fact]
    public void Peeking_an_empty_heap_throws()
    {
        Assert.Throws<InvalidOperationException>(() => new IndexedHeap(0).Peek());
        Assert.Throws<InvalidOperationException>(() => new IndexedHeap(0).PeekKey());
    }

    [Fact]
    public void An_entry_queued_in_another_heap_of_the_same_slot_is_not_found()
    {
        var mine = new IndexedHeap(0);
        var other = new IndexedHeap(0);
        PolicyEntry a = Entry(1), b = Entry(2);
        mine.Insert(a, default);
        other.Insert(b, default);

        Assert.False(mine.Contains(b));
        Assert.False(mine.Remove(b));
        Assert.Throws<InvalidOperationException>(() => mine.Update(b, default));
        Assert.Throws<InvalidOperationException>(() => mine.KeyOf(b));
        Assert.True(other.Contains(b));
    }

    private static PolicyEntry Entry(long id) => new(Request(id));

    private static bool Skip(RequestState r) => r.Id % 3 == 0;

    private static List<RequestState> TopK(IndexedHeap heap, int k, Func<RequestState, bool>? skip = null)
    {
        var output = new RequestState[k];
        var n = heap.TopK(output, skip);
        return [.. output.Take(n)];
    }
}
