using Laps.Scheduling.Policies;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Collections;

/// <summary>
/// A binary min-heap of a policy's entries by <see cref="Priority"/> that knows where each entry sits (the entry
/// holds its position), so a key can be changed or an entry removed in O(log n), and the best <c>B</c> requests can be
/// read in O(B log B) without popping. An entry can be in two heaps at once (slot 0, the queue, and 1, the idle heap).
/// Not thread-safe.
/// </summary>
internal sealed class IndexedHeap(int slot)
{
    private PolicyEntry[] _items = new PolicyEntry[64];
    private Priority[] _keys = new Priority[64];

    // Scratch for TopK: a small heap of positions into the main heap.
    private int[] _frontier = new int[64];

    public int Count { get; private set; }

    public bool Contains(PolicyEntry e) => Find(e) >= 0;

    public PolicyEntry Peek() => Count > 0 ? _items[0] : throw new InvalidOperationException("heap is empty");

    public Priority PeekKey() => Count > 0 ? _keys[0] : throw new InvalidOperationException("heap is empty");

    public Priority KeyOf(PolicyEntry e) => Find(e) is var i and >= 0 ? _keys[i] : throw new InvalidOperationException($"request {e.Request.Id} is not queued");

    public void Insert(PolicyEntry e, Priority key)
    {
        if (Index(e) >= 0)
        {
            throw new InvalidOperationException($"request {e.Request.Id} is already queued");
        }

        if (Count == _items.Length)
        {
            Array.Resize(ref _items, Count * 2);
            Array.Resize(ref _keys, Count * 2);
        }

        _items[Count] = e;
        _keys[Count] = key;
        SetIndex(e, Count);
        Count++;
        Up(Count - 1);
    }

    public void Update(PolicyEntry e, Priority key)
    {
        var i = Find(e);
        if (i < 0)
        {
            throw new InvalidOperationException($"request {e.Request.Id} is not queued");
        }

        var old = _keys[i];
        _keys[i] = key;
        if (key.CompareTo(old) < 0)
        {
            Up(i);
        }
        else
        {
            Down(i);
        }
    }

    public bool Remove(PolicyEntry e)
    {
        var i = Find(e);
        if (i < 0)
        {
            return false;
        }

        Count--;
        SetIndex(e, -1);
        if (i != Count)
        {
            _items[i] = _items[Count];
            _keys[i] = _keys[Count];
            SetIndex(_items[i], i);
            _items[Count] = null!;
            if (i > 0 && _keys[i].CompareTo(_keys[(i - 1) / 2]) < 0)
            {
                Up(i);
            }
            else
            {
                Down(i);
            }
        }
        else
        {
            _items[Count] = null!;
        }

        return true;
    }

    /// <summary>
    /// Writes up to <c>output.Length</c> requests in priority order, skipping those <paramref name="skip"/> rejects,
    /// without changing the heap. Cost O((B + skipped) log B).
    /// </summary>
    public int TopK(Span<RequestState> output, Func<RequestState, bool>? skip = null)
    {
        if (Count == 0 || output.Length == 0)
        {
            return 0;
        }

        var n = 0;
        var frontierCount = 0;
        PushFrontier(ref frontierCount, 0);
        while (frontierCount > 0 && n < output.Length)
        {
            var i = PopFrontier(ref frontierCount);
            var request = _items[i].Request;
            if (skip is null || !skip(request))
            {
                output[n++] = request;
            }

            var child = (2 * i) + 1;
            if (child < Count)
            {
                PushFrontier(ref frontierCount, child);
            }

            if (child + 1 < Count)
            {
                PushFrontier(ref frontierCount, child + 1);
            }
        }

        return n;
    }

    private void PushFrontier(ref int count, int position)
    {
        if (count == _frontier.Length)
        {
            Array.Resize(ref _frontier, count * 2);
        }

        var i = count++;
        _frontier[i] = position;
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (_keys[_frontier[i]].CompareTo(_keys[_frontier[parent]]) >= 0)
            {
                break;
            }

            (_frontier[i], _frontier[parent]) = (_frontier[parent], _frontier[i]);
            i = parent;
        }
    }

    private int PopFrontier(ref int count)
    {
        var top = _frontier[0];
        _frontier[0] = _frontier[--count];
        var i = 0;
        while (true)
        {
            var l = (2 * i) + 1;
            if (l >= count)
            {
                break;
            }

            var m = l + 1 < count && _keys[_frontier[l + 1]].CompareTo(_keys[_frontier[l]]) < 0 ? l + 1 : l;
            if (_keys[_frontier[m]].CompareTo(_keys[_frontier[i]]) >= 0)
            {
                break;
            }

            (_frontier[i], _frontier[m]) = (_frontier[m], _frontier[i]);
            i = m;
        }

        return top;
    }

    private void Up(int i)
    {
        var item = _items[i];
        var key = _keys[i];
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (key.CompareTo(_keys[parent]) >= 0)
            {
                break;
            }

            _items[i] = _items[parent];
            _keys[i] = _keys[parent];
            SetIndex(_items[i], i);
            i = parent;
        }

        _items[i] = item;
        _keys[i] = key;
        SetIndex(item, i);
    }

    private void Down(int i)
    {
        var item = _items[i];
        var key = _keys[i];
        while (true)
        {
            var l = (2 * i) + 1;
            if (l >= Count)
            {
                break;
            }

            var m = l + 1 < Count && _keys[l + 1].CompareTo(_keys[l]) < 0 ? l + 1 : l;
            if (_keys[m].CompareTo(key) >= 0)
            {
                break;
            }

            _items[i] = _items[m];
            _keys[i] = _keys[m];
            SetIndex(_items[i], i);
            i = m;
        }

        _items[i] = item;
        _keys[i] = key;
        SetIndex(item, i);
    }

    private int Index(PolicyEntry e) => slot == 0 ? e.QueueIndex : e.IdleIndex;

    /// <summary>The entry's position in this heap, or -1 (its position may be in another policy's heap).</summary>
    private int Find(PolicyEntry e)
    {
        var i = Index(e);
        return i >= 0 && i < Count && ReferenceEquals(_items[i], e) ? i : -1;
    }

    private void SetIndex(PolicyEntry e, int i)
    {
        if (slot == 0)
        {
            e.QueueIndex = i;
        }
        else
        {
            e.IdleIndex = i;
        }
    }
}
