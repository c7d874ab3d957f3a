using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Collections;

/// <summary>
/// A binary min-heap of requests by <see cref="Priority"/> that knows where each request sits, so a key can be
/// changed or a request removed in O(log n), and the best <c>B</c> can be read in O(B log B) without popping.
/// A request can be in two heaps at once (slot 0 and 1). Not thread-safe.
/// </summary>
internal sealed class IndexedHeap(int slot)
{
    private RequestState[] _items = new RequestState[64];
    private Priority[] _keys = new Priority[64];

    // Scratch for TopK: a small heap of positions into the main heap.
    private int[] _frontier = new int[64];

    public int Count { get; private set; }

    public bool Contains(RequestState r) => Index(r) >= 0;

    public RequestState Peek() => Count > 0 ? _items[0] : throw new InvalidOperationException("heap is empty");

    public Priority PeekKey() => Count > 0 ? _keys[0] : throw new InvalidOperationException("heap is empty");

    public Priority KeyOf(RequestState r) => _keys[Index(r)];

    public void Insert(RequestState r, Priority key)
    {
        if (Index(r) >= 0)
        {
            throw new InvalidOperationException($"request {r.Id} is already queued");
        }

        if (Count == _items.Length)
        {
            Array.Resize(ref _items, Count * 2);
            Array.Resize(ref _keys, Count * 2);
        }

        _items[Count] = r;
        _keys[Count] = key;
        SetIndex(r, Count);
        Count++;
        Up(Count - 1);
    }

    public void Update(RequestState r, Priority key)
    {
        var i = Index(r);
        if (i < 0)
        {
            throw new InvalidOperationException($"request {r.Id} is not queued");
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

    public bool Remove(RequestState r)
    {
        var i = Index(r);
        if (i < 0)
        {
            return false;
        }

        Count--;
        SetIndex(r, -1);
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
            if (skip is null || !skip(_items[i]))
            {
                output[n++] = _items[i];
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

    private int Index(RequestState r) => slot == 0 ? r.HeapIndex0 : r.HeapIndex1;

    private void SetIndex(RequestState r, int i)
    {
        if (slot == 0)
        {
            r.HeapIndex0 = i;
        }
        else
        {
            r.HeapIndex1 = i;
        }
    }
}
