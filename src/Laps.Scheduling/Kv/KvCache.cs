namespace Laps.Scheduling.Kv;

/// <summary>
/// A worker's KV cache as the simulator and the sim engine both model it, so that a simulated and a live run keep
/// and evict the same sequences: the sequences resident on the worker, the tokens each holds (prompt and generated),
/// and their least-recently-used order. A step places its batch (<see cref="BeginBatch"/>, then <see cref="Admit"/>
/// for a sequence that is not resident and <see cref="Touch"/> for one that is), which makes those sequences the most
/// recently used and keeps them from eviction; <see cref="MakeRoom"/> then evicts the least recently used sequences
/// outside the batch until the batch's growth fits. A sequence that finishes, is released or is dropped on preemption
/// leaves with <see cref="Evict"/>. Pure and deterministic; not thread-safe.
/// </summary>
/// <typeparam name="T">The host's sequence, handed back with each entry (and each eviction).</typeparam>
public sealed class KvCache<T>
    where T : class
{
    // Least recently used first; the current batch sits at the tail.
    private KvEntry<T>? _first;
    private KvEntry<T>? _last;
    private long _batch;

    public KvCache(long capacityTokens)
    {
        if (capacityTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(capacityTokens), capacityTokens, "KV capacity must be >= 1 token");
        }

        CapacityTokens = capacityTokens;
    }

    public long CapacityTokens { get; }

    /// <summary>Tokens held by the resident sequences.</summary>
    public long TokensInUse { get; private set; }

    /// <summary>Resident sequences.</summary>
    public int Count { get; private set; }

    /// <summary>Starts placing a new batch: the sequences admitted or touched from now on form it.</summary>
    public void BeginBatch() => _batch++;

    /// <summary>Makes a sequence resident with <paramref name="tokens"/> tokens, as the most recently used member of the batch.</summary>
    public KvEntry<T> Admit(T sequence, long tokens)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        var entry = new KvEntry<T>(sequence, tokens) { IsResident = true };
        Append(entry);
        TokensInUse += tokens;
        Count++;
        return entry;
    }

    /// <summary>Marks a resident sequence as the most recently used member of the batch.</summary>
    public void Touch(KvEntry<T> entry)
    {
        EnsureResident(entry);
        Unlink(entry);
        Append(entry);
    }

    /// <summary>A resident sequence generated <paramref name="tokens"/> more tokens.</summary>
    public void Grow(KvEntry<T> entry, long tokens)
    {
        EnsureResident(entry);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        entry.Tokens += tokens;
        TokensInUse += tokens;
    }

    /// <summary>Frees a sequence's tokens; an entry no longer resident is ignored.</summary>
    public void Evict(KvEntry<T> entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!entry.IsResident)
        {
            return;
        }

        Unlink(entry);
        entry.IsResident = false;
        TokensInUse -= entry.Tokens;
        Count--;
    }

    /// <summary>
    /// Evicts the least recently used sequences outside the current batch until the resident tokens plus
    /// <paramref name="growthTokens"/> (what the batch may still generate before the next placement) fit the capacity,
    /// appending each evicted sequence to <paramref name="evicted"/>. False when even the batch alone does not fit.
    /// </summary>
    public bool MakeRoom(long growthTokens, List<T>? evicted = null)
    {
        // The batch sits at the tail, so the scan ends at its first member.
        while (TokensInUse + growthTokens > CapacityTokens && _first is { } victim && victim.Batch != _batch)
        {
            Evict(victim);
            evicted?.Add(victim.Sequence);
        }

        return TokensInUse + growthTokens <= CapacityTokens;
    }

    private static void EnsureResident(KvEntry<T> entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!entry.IsResident)
        {
            throw new InvalidOperationException("the sequence is not resident in the KV cache");
        }
    }

    private void Append(KvEntry<T> entry)
    {
        entry.Batch = _batch;
        entry.Previous = _last;
        entry.Next = null;
        if (_last is null)
        {
            _first = entry;
        }
        else
        {
            _last.Next = entry;
        }

        _last = entry;
    }

    private void Unlink(KvEntry<T> entry)
    {
        if (entry.Previous is null)
        {
            _first = entry.Next;
        }
        else
        {
            entry.Previous.Next = entry.Next;
        }

        if (entry.Next is null)
        {
            _last = entry.Previous;
        }
        else
        {
            entry.Next.Previous = entry.Previous;
        }

        entry.Previous = entry.Next = null;
    }
}

/// <summary>One sequence's place in a <see cref="KvCache{T}"/>; it stays with the host after the sequence is evicted.</summary>
public sealed class KvEntry<T>
    where T : class
{
    internal KvEntry(T sequence, long tokens)
    {
        Sequence = sequence;
        Tokens = tokens;
    }

    public T Sequence { get; }

    /// <summary>Tokens the sequence holds (while resident: prompt and generated).</summary>
    public long Tokens { get; internal set; }

    /// <summary>False once the sequence was evicted: its KV cache is gone and it must be recomputed to run again.</summary>
    public bool IsResident { get; internal set; }

    internal KvEntry<T>? Previous { get; set; }
    internal KvEntry<T>? Next { get; set; }
    internal long Batch { get; set; }
}
